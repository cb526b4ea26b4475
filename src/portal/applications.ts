import { createClient, findClient, rotateClientSecret, setClientDisabled, type ClientRecord } from '../db/clients.js';
import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import type { Partner, PortalUser } from './partners.js';

/** A partner's application: a client, with who registered it and whether it awaits an admin's approval. */
export interface Application extends ClientRecord {
  partnerId: string;
  createdBy: string;
}

export interface ApplicationRules {
  tiers: string[];
  /** Tiers an admin must approve before the application may get a token (config `portal.approvalTiers`). */
  approvalTiers: string[];
}

interface ApplicationRow {
  client_id: string;
  partner_id: string;
  created_by: string;
}

async function withClient(db: Db, row: ApplicationRow | undefined): Promise<Application | undefined> {
  if (!row) return undefined;
  const client = await findClient(db, row.client_id);
  return client && { ...client, partnerId: row.partner_id, createdBy: row.created_by };
}

/**
 * Registers an application for a partner: a client whose ed-orgs are the partner's approved reach.
 * Nobody knows the secret until this returns, so the pending flag, written just after the client,
 * cannot be raced by a token request.
 */
export async function createApplication(
  db: Db,
  hashKey: Buffer,
  input: { partner: Partner; user: PortalUser; name: string; tier: string },
  rules: ApplicationRules,
): Promise<{ application: Application; secret: string }> {
  const name = input.name.trim();
  if (!name || name.length > 255) throw new ApiError('invalid_field', 'Give the application a name of 1–255 characters.');
  if (!rules.tiers.includes(input.tier)) throw new ApiError('invalid_tier', `Choose one of the tiers: ${rules.tiers.join(', ')}.`);
  const { client, secret } = await createClient(
    db,
    hashKey,
    { name, tier: input.tier, edorgIds: input.partner.edorgIds },
    { tiers: rules.tiers, claimSets: ['SIS Vendor'] },
  );
  await db('portal_applications').insert({
    client_id: client.clientId,
    partner_id: input.partner.id,
    created_by: input.user.id,
    pending: rules.approvalTiers.includes(input.tier),
    approved_by: null,
    approved_at: null,
    created_at: client.createdAt,
  });
  return { application: (await findApplication(db, input.partner.id, client.clientId))!, secret };
}

export async function listApplications(db: Db, partnerId: string): Promise<Application[]> {
  const rows = await db<ApplicationRow>('portal_applications').where({ partner_id: partnerId }).orderBy('created_at', 'desc').select('client_id', 'partner_id', 'created_by');
  return (await Promise.all(rows.map((row) => withClient(db, row)))).filter((a): a is Application => Boolean(a));
}

/** The partner's application with that client id; another partner's is as unknown as a missing one. */
export async function findApplication(db: Db, partnerId: string, clientId: string): Promise<Application | undefined> {
  const row = await db<ApplicationRow>('portal_applications').where({ client_id: clientId }).first('client_id', 'partner_id', 'created_by');
  // Compared here too, byte for byte, so authorisation never rests on a collation.
  if (!row || row.partner_id !== partnerId || row.client_id !== clientId) return undefined;
  return withClient(db, row);
}

export async function requireApplication(db: Db, partnerId: string, clientId: string): Promise<Application> {
  const app = await findApplication(db, partnerId, clientId);
  if (!app) throw new ApiError('unknown_application', 'No application of yours has that client id.');
  return app;
}

export async function rotateApplicationSecret(db: Db, hashKey: Buffer, app: Application): Promise<string> {
  return (await rotateClientSecret(db, hashKey, app.clientId)).secret;
}

export async function setApplicationDisabled(db: Db, app: Application, disabled: boolean): Promise<void> {
  await setClientDisabled(db, app.clientId, disabled);
}

export type PendingApplication = {
  client_id: string;
  name: string;
  tier: string;
  partner_id: string;
  partner: string;
  created_at: string;
};

export async function listPendingApplications(db: Db): Promise<PendingApplication[]> {
  const rows = await db('portal_applications as a')
    .join('clients as c', 'c.client_id', 'a.client_id')
    .join('partners as p', 'p.id', 'a.partner_id')
    .where('a.pending', true)
    .orderBy('a.created_at')
    .select('a.client_id', 'c.name', 'c.tier', 'a.partner_id', 'p.name as partner', 'a.created_at');
  return rows.map((r: PendingApplication & { created_at: number }) => ({ ...r, created_at: new Date(Number(r.created_at)).toISOString() }));
}

/** An admin approves a pending application: from now on it may get tokens. */
export async function approveApplication(db: Db, clientId: string, approvedBy: string): Promise<{ partnerId: string; name: string; tier: string }> {
  const row = await db('portal_applications as a').join('clients as c', 'c.client_id', 'a.client_id').where('a.client_id', clientId).first('a.pending', 'a.partner_id', 'c.name', 'c.tier');
  if (!row) throw new ApiError('unknown_application', `no portal application with client id ${clientId}`);
  if (!row.pending) throw new ApiError('not_pending', `application ${clientId} is not waiting for approval`);
  await db('portal_applications').where({ client_id: clientId }).update({ pending: false, approved_by: approvedBy, approved_at: Date.now() });
  return { partnerId: row.partner_id, name: row.name, tier: row.tier };
}

/** Names of ed-orgs by id, for pages that show schools rather than numbers. */
export async function edorgNames(db: Db, ids: Array<number | string>): Promise<Array<{ id: number; name: string; type: string }>> {
  if (!ids.length) return [];
  const rows = await db('education_organizations').whereIn('id', ids.map(Number)).orderBy('name').select('id', 'name', 'type');
  return rows.map((r: { id: number; name: string; type: string }) => ({ id: Number(r.id), name: r.name, type: r.type }));
}
