import type { ClientRecord } from '../../db/clients.js';
import type { ResourceMeta } from '../resource-meta.js';

type Item = Record<string, unknown>;

export interface ReadRepresentation {
  /** The response Content-Type. */
  contentType: string;
  /** Shapes one item for the client (single and collection GETs alike). */
  shape(item: Item): Item;
  /**
   * Whether the member at this path (`['birthDate']`, `['schoolReference', 'schoolId']`) is
   * readable: only readable members may be query filters, or a hidden member could be read one
   * yes/no answer at a time.
   */
  readable(path: string[]): boolean;
}

export interface WriteRepresentation {
  /**
   * The body to validate and store: members the client may not write are discarded, and on an
   * update the stored item keeps its other members.
   */
  filter(incoming: Item, stored?: Item): Item;
}

/**
 * How a request's media types decide what a client reads and writes of a resource. The resource
 * API calls it for every GET (forRead) and POST/PUT (forWrite); refusals are thrown as ApiError.
 * API profiles (contract section 6) are one implementation; plain JSON is the other.
 */
export interface ContentPolicy {
  forRead(input: { accept: string | undefined; resource: ResourceMeta; client: ClientRecord }): ReadRepresentation;
  forWrite(input: { contentType: string | undefined; resource: ResourceMeta; client: ClientRecord; method?: string }): WriteRepresentation;
}

/** No profiles: everything is read and written as application/json. */
export const plainJson: ContentPolicy = {
  forRead: () => ({ contentType: 'application/json', shape: (item) => item, readable: () => true }),
  forWrite: () => ({ filter: (incoming) => incoming }),
};
