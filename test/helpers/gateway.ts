import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

import type { Db } from '../../src/db/knex.js';
import { canonicalJson, documentEtag, naturalKeyHash, newDocumentId } from '../../src/edfi/documents.js';
import { issuer, type TestApp } from './app.js';

/**
 * Tiers for gateway tests: the contract's three, plus small ones so quotas can be reached.
 * `tiny` has 10 requests a minute; `thrifty` 25 cost a day (the stats call costs 10).
 */
export function tiersConfigFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-gw-'));
  const file = join(dir, 'config.json');
  const tiers = {
    free: { requestsPerMinute: 60, costPerDay: 5_000 },
    standard: { requestsPerMinute: 600, costPerDay: 100_000 },
    premium: { requestsPerMinute: 6_000, costPerDay: 2_000_000 },
    tiny: { requestsPerMinute: 10, costPerDay: 1_000_000 },
    thrifty: { requestsPerMinute: 1_000, costPerDay: 25 },
  };
  writeFileSync(file, JSON.stringify({ tiers }));
  return file;
}

export const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** Claims of a well-formed access token for a client, as the token endpoint issues them. */
export function accessClaims(clientId: string, overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: issuer,
    aud: issuer,
    sub: clientId,
    client_id: clientId,
    tier: 'standard',
    schools: ['255901001', '255901044', '255901107'],
    jti: randomUUID(),
    iat: now,
    exp: now + 600,
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims;
}

/** The server's own active signing key, straight from its keyring: forged tokens it must accept. */
export function serverSigningJwk(app: TestApp): JWK {
  return app.services.keyring.current.privateJwks[0];
}

export async function signWith(jwk: JWK, claims: JWTPayload, header: { typ?: string; kid?: string } = {}): Promise<string> {
  const key = await importJWK(jwk, 'RS256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: header.typ ?? 'at+jwt', kid: header.kid ?? jwk.kid }).sign(key);
}

/** An `alg: none` token: header and payload, empty signature. */
export function unsignedToken(claims: JWTPayload, kid: string): string {
  const part = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${part({ alg: 'none', typ: 'at+jwt', kid })}.${part(claims)}.`;
}

/** The classic confusion attack: HS256 with the server's public key (PEM) as the HMAC secret. */
export async function hs256WithPublicKey(jwk: JWK, claims: JWTPayload): Promise<string> {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
  const pem = createPublicKey({ key: publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid }).sign(Buffer.from(pem));
}

/** A key the server never published. */
export async function strangerJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `stranger-${randomBytes(4).toString('hex')}` };
}

async function insertDocument(db: Db, resource: string, key: Array<string | number>, body: Record<string, unknown>, columns: Record<string, unknown>): Promise<string> {
  const id = newDocumentId();
  await db('edfi_documents').insert({
    id,
    resource,
    key_hash: naturalKeyHash(key),
    body: canonicalJson(body),
    etag: documentEtag(body),
    last_modified: Date.now(),
    created_by: null,
    ...columns,
  });
  return id;
}

/** A StudentSchoolAssociation row as the Ed-Fi API stores it, with its reach row. */
export async function enrol(db: Db, studentUniqueId: string, schoolId: number): Promise<void> {
  const body = { studentReference: { studentUniqueId }, schoolReference: { schoolId }, entryDate: '2026-08-20' };
  const id = await insertDocument(db, 'studentSchoolAssociations', [studentUniqueId, schoolId, '2026-08-20'], body, { edorg_id: schoolId, student_unique_id: studentUniqueId });
  await db('edfi_subject_edorgs').insert({ subject_type: 'student', subject_id: studentUniqueId, edorg_id: schoolId, via_document_id: id });
}

/** A StudentSchoolAttendanceEvent row and its typed projection. */
export async function attend(db: Db, studentUniqueId: string, schoolId: number, eventDate: string, category: string): Promise<void> {
  const body = {
    studentReference: { studentUniqueId },
    schoolReference: { schoolId },
    eventDate,
    attendanceEventCategoryDescriptor: category,
  };
  const id = await insertDocument(db, 'studentSchoolAttendanceEvents', [studentUniqueId, schoolId, eventDate, category], body, { edorg_id: schoolId, student_unique_id: studentUniqueId });
  await db('attendance_events').insert({ document_id: id, school_id: schoolId, student_unique_id: studentUniqueId, event_date: eventDate, category });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds or `withinMs` passes; returns the milliseconds it took, or fails. */
export async function within(withinMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    if (await check()) return Date.now() - started;
    await sleep(200);
  }
  throw new Error(`not within ${withinMs} ms`);
}
