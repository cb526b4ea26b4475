import { ConfigError } from '../../config/index.js';

/**
 * Profile definitions in edgate's JSON form — the shape both file formats are read into.
 * The XML form (Ed-Fi ODS/API `Ed-Fi-ODS-API-Profiles.xsd`) maps onto it element for element:
 *
 *   <Profile name>                 → { name, resources: [...] }
 *   <Resource name>                → { name, readContentType?, writeContentType? }
 *   <Read|WriteContentType memberSelection>, <Object name memberSelection>
 *                                  → { memberSelection, properties?, objects?, collections? } (+ name on objects)
 *   <Property name>                → a string in `properties`
 *   <Collection name memberSelection> + <Filter propertyName filterMode><Value>…
 *                                  → a class definition with `filter: { propertyName, filterMode, values }`
 */
export type MemberSelection = 'IncludeOnly' | 'ExcludeOnly' | 'IncludeAll' | 'ExcludeAll';
export const memberSelections: readonly MemberSelection[] = ['IncludeOnly', 'ExcludeOnly', 'IncludeAll', 'ExcludeAll'];

export type FilterMode = 'IncludeOnly' | 'ExcludeOnly';
export const filterModes: readonly FilterMode[] = ['IncludeOnly', 'ExcludeOnly'];

export interface ItemFilterDefinition {
  propertyName: string;
  filterMode: FilterMode;
  values: string[];
}

export interface ContentTypeDefinition {
  memberSelection: MemberSelection;
  properties?: string[];
  objects?: ClassDefinition[];
  collections?: CollectionDefinition[];
}

export interface ClassDefinition extends ContentTypeDefinition {
  name: string;
}

export interface CollectionDefinition extends ClassDefinition {
  filter?: ItemFilterDefinition;
}

export interface ResourceDefinition {
  name: string;
  readContentType?: ContentTypeDefinition;
  writeContentType?: ContentTypeDefinition;
}

export interface ProfileDefinition {
  name: string;
  resources: ResourceDefinition[];
}

/** One profile file's content, remembered with where it came from for start-up messages. */
export interface ProfileSource {
  file: string;
  profiles: ProfileDefinition[];
}

/**
 * A definition that cannot be used: start-up stops with this message (file, profile, member). A
 * configuration error, so the server exits as it does for other bad configuration (EX_CONFIG).
 */
export class ProfileDefinitionError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileDefinitionError';
  }
}
