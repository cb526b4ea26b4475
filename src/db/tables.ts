/** Row shapes as they come back from the database (both dialects). Booleans arrive as 0/1. */

/**
 * The ed-org tree's kinds: every concrete EducationOrganization of the Data Standard. From the top of the K-12 tree
 * (state agency, service centre, local agency, school), then the others: post-secondary institution, network and
 * community organisation stand alone; a community provider hangs from its community organisation, and an
 * organisation department from any ed-org. Parents come before their children in this order (`edorg import`).
 */
export const edorgTypes = ['sea', 'esc', 'lea', 'school', 'postsecondary', 'network', 'community_org', 'community_provider', 'department'] as const;

export type EdorgType = (typeof edorgTypes)[number];

export interface EdorgRow {
  id: number;
  type: EdorgType;
  name: string;
  parent_id: number | null;
  created_at: number;
  updated_at: number;
}

/**
 * One stored Ed-Fi item (edfi_documents): the body as JSON, and the columns a write derives from it once, through
 * the model (natural key hash, and the securable values reach is checked against). MySQL hands BIGINTs back as strings.
 */
export interface DocumentRow {
  id: string;
  resource: string;
  key_hash: string;
  body: string;
  etag: string;
  last_modified: number | string;
  created_by: string | null;
  /** The creating client's ownership token (migrations/20261202040000_ownership_tokens.ts), or null. */
  created_by_ownership_token_id: number | string | null;
  edorg_id: number | string | null;
  student_unique_id: string | null;
  staff_unique_id: string | null;
  contact_unique_id: string | null;
  namespace: string | null;
  /** The change version of the write that last changed it (migrations/20261202020000_change_queries.ts); reads rarely select it. */
  change_version?: number | string;
}

/** edfi_tracked_changes: a delete or identity change, with the identity and securable values the item had then. */
export interface TrackedChangeRow {
  change_version: number | string;
  document_id: string;
  kind: 'delete' | 'keyChange';
  resource: string;
  key_hash: string;
  /** keyValues JSON; new_key only for key changes. */
  old_key: string;
  new_key: string | null;
  created_by: string | null;
  created_by_ownership_token_id: number | string | null;
  edorg_id: number | string | null;
  student_unique_id: string | null;
  staff_unique_id: string | null;
  contact_unique_id: string | null;
  namespace: string | null;
  subject_type: 'student' | 'staff' | null;
  subject_id: string | null;
  subject_edorg_id: number | string | null;
}

export interface ClientRow {
  client_id: string;
  name: string;
  secret_hash: string;
  tier: string;
  claim_set: string;
  namespace_prefixes: string;
  profiles: string;
  creator_ownership_token_id: number | string | null;
  disabled: number | boolean;
  created_at: number;
  updated_at: number;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk: string;
  encrypted: number | boolean;
  created_at: number;
  retired_at: number | null;
}
