import { missingEdorgs } from '../db/edorgs.js';
import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import { newId } from './ids.js';

export type AccessRequestStatus = 'pending' | 'approved' | 'denied';

export interface AccessRequest {
  id: string;
  partnerId: string;
  partnerName?: string;
  requestedBy: string;
  edorgIds: number[];
  reason: string;
  status: AccessRequestStatus;
  decidedBy: string | null;
  decidedAt: number | null;
  decisionNote: string | null;
  createdAt: number;
}

interface AccessRequestRow {
  id: string;
  partner_id: string;
  partner_name?: string;
  requested_by: string;
  edorg_ids: string;
  reason: string;
  status: AccessRequestStatus;
  decided_by: string | null;
  decided_at: number | null;
  decision_note: string | null;
  created_at: number;
}

function toRequest(row: AccessRequestRow): AccessRequest {
  return {
    id: row.id,
    partnerId: row.partner_id,
    partnerName: row.partner_name,
    requestedBy: row.requested_by,
    edorgIds: JSON.parse(row.edorg_ids) as number[],
    reason: row.reason,
    status: row.status,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
    decisionNote: row.decision_note,
    createdAt: Number(row.created_at),
  };
}

export const maxReasonLength = 2000;

export async function requestAccess(db: Db, input: { partnerId: string; userId: string; edorgIds: number[]; reason: string }): Promise<AccessRequest> {
  const edorgIds = [...new Set(input.edorgIds)].sort((a, b) => a - b);
  const reason = input.reason.trim();
  if (!edorgIds.length) throw new ApiError('missing_field', 'Choose at least one school.');
  if (!reason || reason.length > maxReasonLength) throw new ApiError('missing_field', `Say why you need access (1–${maxReasonLength} characters).`);
  const missing = await missingEdorgs(db, edorgIds);
  if (missing.length) throw new ApiError('unknown_edorg', `No school with id ${missing.join(', ')}.`);
  const row = { id: newId(), partner_id: input.partnerId, requested_by: input.userId, edorg_ids: JSON.stringify(edorgIds), reason, status: 'pending', decided_by: null, decided_at: null, decision_note: null, created_at: Date.now() };
  await db('access_requests').insert(row);
  return toRequest(row as AccessRequestRow);
}

export async function listAccessRequests(db: Db, filter: { partnerId?: string; status?: AccessRequestStatus } = {}): Promise<AccessRequest[]> {
  const query = db('access_requests as r').join('partners as p', 'p.id', 'r.partner_id').orderBy('r.created_at', 'desc').select('r.*', 'p.name as partner_name');
  if (filter.partnerId) query.where('r.partner_id', filter.partnerId);
  if (filter.status) query.where('r.status', filter.status);
  return ((await query) as AccessRequestRow[]).map(toRequest);
}

async function pendingRequest(db: Db, id: string): Promise<AccessRequest> {
  const row = await db('access_requests as r').join('partners as p', 'p.id', 'r.partner_id').where('r.id', id).first('r.*', 'p.name as partner_name');
  if (!row) throw new ApiError('unknown_access_request', `no access request with id ${id}`);
  const request = toRequest(row);
  if (request.status !== 'pending') throw new ApiError('already_decided', `access request ${id} was already ${request.status}`);
  return request;
}

/**
 * Approving widens the partner's reach and, in the same transaction, every one of its applications'
 * ed-orgs: tokens minted afterwards carry the new schools (within the client cache's 2 seconds).
 */
export async function approveAccessRequest(db: Db, id: string, decidedBy: string, note?: string): Promise<AccessRequest> {
  const request = await pendingRequest(db, id);
  await db.transaction(async (trx) => {
    const have = new Set((await trx('partner_edorgs').where({ partner_id: request.partnerId }).select('edorg_id')).map((r: { edorg_id: number }) => Number(r.edorg_id)));
    const added = request.edorgIds.filter((edorgId) => !have.has(edorgId));
    if (added.length) await trx('partner_edorgs').insert(added.map((edorg_id) => ({ partner_id: request.partnerId, edorg_id })));
    const clients = (await trx('portal_applications').where({ partner_id: request.partnerId }).select('client_id')).map((r: { client_id: string }) => r.client_id);
    for (const clientId of clients) {
      const linked = new Set((await trx('client_edorgs').where({ client_id: clientId }).select('edorg_id')).map((r: { edorg_id: number }) => Number(r.edorg_id)));
      const missing = request.edorgIds.filter((edorgId) => !linked.has(edorgId));
      if (missing.length) await trx('client_edorgs').insert(missing.map((edorg_id) => ({ client_id: clientId, edorg_id })));
    }
    await decide(trx, id, 'approved', decidedBy, note);
  });
  return { ...request, status: 'approved', decidedBy, decidedAt: Date.now(), decisionNote: note ?? null };
}

export async function denyAccessRequest(db: Db, id: string, decidedBy: string, note?: string): Promise<AccessRequest> {
  const request = await pendingRequest(db, id);
  await decide(db, id, 'denied', decidedBy, note);
  return { ...request, status: 'denied', decidedBy, decidedAt: Date.now(), decisionNote: note ?? null };
}

async function decide(db: Db, id: string, status: AccessRequestStatus, decidedBy: string, note?: string): Promise<void> {
  const changed = await db('access_requests').where({ id, status: 'pending' }).update({ status, decided_by: decidedBy, decided_at: Date.now(), decision_note: note ?? null });
  if (changed !== 1) throw new ApiError('already_decided', `access request ${id} was decided meanwhile`);
}
