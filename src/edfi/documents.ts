import { createHash, randomBytes } from 'node:crypto';

/**
 * Conventions of the shared document store (migrations/20261122000100_edfi_documents.ts), used by
 * every writer — the Ed-Fi resource API and the SIS bulk sync — so both produce identical rows.
 *
 * - `id`: 32 lower-case hex characters, random (Ed-Fi resource ids).
 * - `key_hash`: sha256 hex of the identity values in the model's identity order, each as a string:
 *   students → [studentUniqueId]; studentSchoolAssociations → [studentUniqueId, schoolId, entryDate];
 *   descriptors → [their URI, lower-cased].
 * - `edfi_references`: one row per reference a document makes (the resolved target's resource and
 *   key_hash), so a delete finds its dependants by index.
 * - `body`: the Ed-Fi JSON without id/_etag/_lastModifiedDate, e.g. a student
 *   {"studentUniqueId","firstName","lastSurname","birthDate",…} and an association
 *   {"studentReference":{"studentUniqueId"},"schoolReference":{"schoolId"},"entryDate",
 *   "entryGradeLevelDescriptor"?}.
 * - `etag`: a hash of the body's content (key order does not matter), so an unchanged re-send
 *   keeps its etag and is detectably unchanged.
 * - `last_modified`: epoch milliseconds.
 * - `edfi_subject_edorgs`: one row per StudentSchoolAssociation ('student', studentUniqueId,
 *   schoolId, association id) and per StaffEducationOrganizationAssignmentAssociation ('staff',
 *   staffUniqueId, educationOrganizationId, association id).
 */
export function newDocumentId(): string {
  return randomBytes(16).toString('hex');
}

/** Whether a string can be a document id (letter case aside, as Ed-Fi ids are GUIDs): anything else names none. */
export function isDocumentId(id: string): boolean {
  return /^[0-9a-f]{32}$/i.test(id);
}

/**
 * The hash of an identity: its values as strings, in the resource's identity order (the model's).
 * A reference carries the values under the target's identity names and is put in the target's
 * order before hashing, so it finds its target by this column.
 */
export function naturalKeyHash(values: Array<string | number>): string {
  return createHash('sha256').update(JSON.stringify(values.map(String))).digest('hex');
}

/** Descriptor URIs compare case-insensitively, as the ODS/API compares them. */
export function descriptorIdentityValue(uri: string): string {
  return uri.toLowerCase();
}

/** JSON with object keys sorted at every level: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function documentEtag(body: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 20);
}
