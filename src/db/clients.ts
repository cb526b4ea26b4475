import { randomInt } from 'node:crypto';

import { ApiError } from '../errors.js';
import { generateSecret, keyedHash } from '../secret-hash.js';
import { isDuplicateKey } from './driver-errors.js';
import { missingEdorgs } from './edorgs.js';
import type { Db } from './knex.js';
import type { ClientRow } from './tables.js';

/** A client as the rest of the service sees it: parsed lists, a real boolean, its ed-orgs. */
export interface ClientRecord {
  clientId: string;
  name: string;
  secretHash: string;
  tier: string;
  claimSet: string;
  namespacePrefixes: string[];
  profiles: string[];
  disabled: boolean;
  /** Registered in the portal on a tier that needs an admin's approval, not yet approved: no token. */
  pending: boolean;
  edorgIds: number[];
  /** The ownership token stamped on the items the client creates (its id and name), or null: they carry none. */
  creatorTokenId: number | null;
  creatorToken: string | null;
  /** The tokens whose items the `ownership` strategy lets the client reach; authorisation compares the ids. */
  ownershipTokenIds: number[];
  ownershipTokens: string[];
  createdAt: number;
  updatedAt: number;
}

export interface ClientInput {
  name?: string;
  tier?: string;
  claimSet?: string;
  edorgIds?: number[];
  /** Assign ed-orgs that are not created yet (as the ODS/API allows): their reach starts when they are written. */
  edorgsLater?: boolean;
  profiles?: string[];
  namespacePrefixes?: string[];
  /** The creator token by name (made when new); a new client given none gets a token of its own. */
  creatorToken?: string;
  /** The tokens the client may reach by name (made when new); its creator token is always among them. */
  ownershipTokens?: string[];
}

/** What the caller may choose among; the CLI passes the configured tiers and claim sets. */
export interface ClientRules {
  tiers: string[];
  claimSets: string[];
  /** The API profiles this host defines; when given, assigned profile names must be among them. */
  profiles?: string[];
}

export const defaultClaimSet = 'SIS Vendor';

const idAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * 20 alphanumeric characters (~119 bits). Not base64url: an id starting with '-' would be read as
 * an option by `edgate client show ID`, and ids travel through shells, URLs and Basic auth too.
 */
function newClientId(): string {
  return Array.from({ length: 20 }, () => idAlphabet[randomInt(idAlphabet.length)]).join('');
}

type ClientRowWithApproval = ClientRow & { pending?: number | boolean | null };

/** A client's ownership tokens: its creator token and the ones it may reach. */
interface ClientTokens {
  creator: { id: number; name: string } | null;
  accessible: Array<{ id: number; name: string }>;
}

const noTokens: ClientTokens = { creator: null, accessible: [] };

function toRecord(row: ClientRowWithApproval, edorgIds: number[], tokens: ClientTokens): ClientRecord {
  return {
    clientId: row.client_id,
    name: row.name,
    secretHash: row.secret_hash,
    tier: row.tier,
    claimSet: row.claim_set,
    namespacePrefixes: JSON.parse(row.namespace_prefixes) as string[],
    profiles: JSON.parse(row.profiles) as string[],
    disabled: Boolean(row.disabled),
    pending: Boolean(row.pending),
    edorgIds,
    creatorTokenId: tokens.creator?.id ?? null,
    creatorToken: tokens.creator?.name ?? null,
    ownershipTokenIds: tokens.accessible.map((t) => t.id),
    ownershipTokens: tokens.accessible.map((t) => t.name),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** The public view of a client: never the secret hash. */
export function describeClient(c: ClientRecord) {
  return {
    client_id: c.clientId,
    name: c.name,
    tier: c.tier,
    claim_set: c.claimSet,
    education_organization_ids: c.edorgIds,
    namespace_prefixes: c.namespacePrefixes,
    profiles: c.profiles,
    creator_ownership_token: c.creatorToken,
    ownership_tokens: c.ownershipTokens,
    disabled: c.disabled,
    pending: c.pending,
    created_at: new Date(c.createdAt).toISOString(),
    updated_at: new Date(c.updatedAt).toISOString(),
  };
}

async function checkInput(db: Db, input: ClientInput, rules: ClientRules): Promise<void> {
  if (input.name !== undefined && (!input.name.trim() || input.name.length > 255)) {
    throw new ApiError('invalid_field', 'name must be 1–255 characters');
  }
  if (input.tier !== undefined && !rules.tiers.includes(input.tier)) {
    throw new ApiError('invalid_tier', `tier must be one of ${rules.tiers.join('|')}, got "${input.tier}"`);
  }
  if (input.claimSet !== undefined && !rules.claimSets.includes(input.claimSet)) {
    throw new ApiError('invalid_claim_set', `claim set must be one of ${rules.claimSets.map((c) => `"${c}"`).join(', ')}, got "${input.claimSet}"`);
  }
  const defined = new Set(rules.profiles?.map((name) => name.toLowerCase()));
  const undefinedProfile = rules.profiles && input.profiles?.find((name) => !defined.has(name.toLowerCase()));
  if (undefinedProfile) {
    throw new ApiError('unknown_profile', `profile "${undefinedProfile}" is not defined in profilesDir; defined: ${rules.profiles!.join(', ') || 'none'}`, {}, {}, 400);
  }
  const missing = input.edorgsLater ? [] : await missingEdorgs(db, input.edorgIds ?? []);
  // Refused by default: a mistyped id would give a client no reach and no error.
  if (missing.length) throw new ApiError('unknown_edorg', `no education organisation with id ${missing.join(', ')} (create it first, or assign it ahead with --edorg-later)`);
  for (const name of [...(input.creatorToken === undefined ? [] : [input.creatorToken]), ...(input.ownershipTokens ?? [])]) {
    if (!ownershipTokenName.test(name)) throw new ApiError('invalid_field', `an ownership token name is 1–80 letters, digits and _ . : @ -, got "${name}"`);
  }
  for (const prefix of input.namespacePrefixes ?? []) {
    if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(prefix)) throw new ApiError('invalid_field', `namespace prefix must be a URI such as uri://ed-fi.org, got "${prefix}"`);
  }
}

const ownershipTokenName = /^[\w.:@-]{1,80}$/;

/** The token a client gets when it is given none: its own, so `ownership` means "the creating client" by default. */
export const ownTokenName = (clientId: string) => `client:${clientId}`;

/** Ownership tokens of the given clients (every client when none are named), ordered by token id. */
async function tokensOf(db: Db, clientIds?: string[]): Promise<Map<string, ClientTokens>> {
  const accessible = db('client_ownership_tokens as c').join('ownership_tokens as t', 't.id', 'c.ownership_token_id').select('c.client_id', 't.id', 't.name').orderBy('t.id');
  const creators = db('clients as c').join('ownership_tokens as t', 't.id', 'c.creator_ownership_token_id').select('c.client_id', 't.id', 't.name');
  if (clientIds) {
    accessible.whereIn('c.client_id', clientIds);
    creators.whereIn('c.client_id', clientIds);
  }
  type TokenRow = { client_id: string; id: number | string; name: string };
  const out = new Map<string, ClientTokens>();
  const entry = (clientId: string) => out.get(clientId) ?? out.set(clientId, { creator: null, accessible: [] }).get(clientId)!;
  for (const row of (await creators) as TokenRow[]) entry(row.client_id).creator = { id: Number(row.id), name: row.name };
  for (const row of (await accessible) as TokenRow[]) entry(row.client_id).accessible.push({ id: Number(row.id), name: row.name });
  return out;
}

/** A token's id by name; a name not seen before makes a new token. */
async function tokenIdOf(db: Db, name: string): Promise<number> {
  const existing = (await db('ownership_tokens').where({ name }).first('id')) as { id: number | string } | undefined;
  if (existing) return Number(existing.id);
  try {
    await db('ownership_tokens').insert({ name, created_at: Date.now() });
  } catch (err) {
    // Made meanwhile by another admin command: use that one.
    if (!isDuplicateKey(err)) throw err;
  }
  return tokenIdOf(db, name);
}

/** Lets the client reach these tokens' items, besides those it reaches already. */
async function grantTokens(db: Db, clientId: string, tokenIds: number[]): Promise<void> {
  const ids = [...new Set(tokenIds)];
  if (ids.length) await db('client_ownership_tokens').insert(ids.map((ownership_token_id) => ({ client_id: clientId, ownership_token_id })));
}

/** Changes the client's creator token and the tokens it reaches (each when given); the creator token stays reachable. */
async function changeTokens(db: Db, clientId: string, creatorName: string | undefined, accessibleNames: string[] | undefined): Promise<void> {
  if (creatorName === undefined && accessibleNames === undefined) return;
  if (creatorName !== undefined) await db('clients').where({ client_id: clientId }).update({ creator_ownership_token_id: await tokenIdOf(db, creatorName) });
  const current = (await tokensOf(db, [clientId])).get(clientId) ?? noTokens;
  const wanted = accessibleNames ? await Promise.all(accessibleNames.map((name) => tokenIdOf(db, name))) : current.accessible.map((t) => t.id);
  await db('client_ownership_tokens').where({ client_id: clientId }).del();
  await grantTokens(db, clientId, [...(current.creator ? [current.creator.id] : []), ...wanted]);
}

async function edorgIdsOf(db: Db, clientId: string): Promise<number[]> {
  const rows = await db('client_edorgs').where({ client_id: clientId }).orderBy('edorg_id').select('edorg_id');
  return rows.map((r: { edorg_id: number }) => Number(r.edorg_id));
}

/** Clients with the portal's approval state (absent for clients the CLI created: never pending). */
function clientsWithApproval(db: Db) {
  return db('clients').leftJoin('portal_applications as a', 'a.client_id', 'clients.client_id').select('clients.*', 'a.pending');
}

export async function findClient(db: Db, clientId: string): Promise<ClientRecord | undefined> {
  const row = (await clientsWithApproval(db).where('clients.client_id', clientId).first()) as ClientRowWithApproval | undefined;
  return row ? toRecord(row, await edorgIdsOf(db, clientId), (await tokensOf(db, [clientId])).get(clientId) ?? noTokens) : undefined;
}

export async function requireClient(db: Db, clientId: string): Promise<ClientRecord> {
  const client = await findClient(db, clientId);
  if (!client) throw new ApiError('unknown_client', `no client with id ${clientId}`);
  return client;
}

export async function listClients(db: Db): Promise<ClientRecord[]> {
  const [rows, links, tokens] = await Promise.all([
    clientsWithApproval(db).orderBy('clients.created_at').orderBy('clients.client_id') as Promise<ClientRowWithApproval[]>,
    db('client_edorgs').orderBy('edorg_id').select('client_id', 'edorg_id'),
    tokensOf(db),
  ]);
  return rows.map((row) =>
    toRecord(
      row,
      links.filter((l: { client_id: string }) => l.client_id === row.client_id).map((l: { edorg_id: number }) => Number(l.edorg_id)),
      tokens.get(row.client_id) ?? noTokens,
    ),
  );
}

async function replaceEdorgs(db: Db, clientId: string, edorgIds: number[]): Promise<void> {
  await db('client_edorgs').where({ client_id: clientId }).del();
  const unique = [...new Set(edorgIds)];
  // In chunks: SQLite refuses one INSERT of more than 500 rows (knex writes it as a compound SELECT).
  for (let i = 0; i < unique.length; i += 500) {
    await db('client_edorgs').insert(unique.slice(i, i + 500).map((edorg_id) => ({ client_id: clientId, edorg_id })));
  }
}

/** Creates a client; the plain secret is returned this once and only its keyed hash is stored. */
export async function createClient(db: Db, hashKey: Buffer, input: ClientInput, rules: ClientRules): Promise<{ client: ClientRecord; secret: string }> {
  if (!input.name) throw new ApiError('missing_field', '--name is required');
  if (!input.tier) throw new ApiError('missing_field', '--tier is required');
  const full = { ...input, claimSet: input.claimSet ?? defaultClaimSet };
  await checkInput(db, full, rules);
  const clientId = newClientId();
  const secret = generateSecret();
  const now = Date.now();
  await db.transaction(async (trx) => {
    // Inserts only, no delete-then-insert: on MySQL a delete of rows not there yet takes a gap lock that concurrent
    // creates would deadlock on.
    const creatorTokenId = await tokenIdOf(trx, full.creatorToken ?? ownTokenName(clientId));
    await trx('clients').insert({
      client_id: clientId,
      name: full.name,
      secret_hash: keyedHash(hashKey, secret),
      tier: full.tier,
      claim_set: full.claimSet,
      namespace_prefixes: JSON.stringify(full.namespacePrefixes ?? []),
      profiles: JSON.stringify(full.profiles ?? []),
      creator_ownership_token_id: creatorTokenId,
      disabled: false,
      created_at: now,
      updated_at: now,
    });
    await replaceEdorgs(trx, clientId, full.edorgIds ?? []);
    await grantTokens(trx, clientId, [creatorTokenId, ...(await Promise.all((full.ownershipTokens ?? []).map((name) => tokenIdOf(trx, name))))]);
  });
  return { client: await requireClient(db, clientId), secret };
}

export async function updateClient(db: Db, clientId: string, input: ClientInput, rules: ClientRules): Promise<ClientRecord> {
  await requireClient(db, clientId);
  await checkInput(db, input, rules);
  const changes: Partial<ClientRow> = { updated_at: Date.now() };
  if (input.name !== undefined) changes.name = input.name;
  if (input.tier !== undefined) changes.tier = input.tier;
  if (input.claimSet !== undefined) changes.claim_set = input.claimSet;
  if (input.profiles !== undefined) changes.profiles = JSON.stringify(input.profiles);
  if (input.namespacePrefixes !== undefined) changes.namespace_prefixes = JSON.stringify(input.namespacePrefixes);
  await db.transaction(async (trx) => {
    await trx('clients').where({ client_id: clientId }).update(changes);
    if (input.edorgIds !== undefined) await replaceEdorgs(trx, clientId, input.edorgIds);
    await changeTokens(trx, clientId, input.creatorToken, input.ownershipTokens);
  });
  return requireClient(db, clientId);
}

export async function rotateClientSecret(db: Db, hashKey: Buffer, clientId: string): Promise<{ client: ClientRecord; secret: string }> {
  await requireClient(db, clientId);
  const secret = generateSecret();
  await db('clients').where({ client_id: clientId }).update({ secret_hash: keyedHash(hashKey, secret), updated_at: Date.now() });
  return { client: await requireClient(db, clientId), secret };
}

export async function setClientDisabled(db: Db, clientId: string, disabled: boolean): Promise<ClientRecord> {
  await requireClient(db, clientId);
  await db('clients').where({ client_id: clientId }).update({ disabled, updated_at: Date.now() });
  return requireClient(db, clientId);
}

/** Ids of every disabled client; the in-process revocation list is fed from this. */
export async function disabledClientIds(db: Db): Promise<string[]> {
  const rows = await db('clients').where({ disabled: true }).select('client_id');
  return rows.map((r: { client_id: string }) => r.client_id);
}
