import type { Db } from '../db/knex.js';

/** Who did something: a portal user, an administrator at the CLI, or nobody signed in. */
export type Actor = { kind: 'user'; email: string; partnerId: string } | { kind: 'admin'; name: string } | { kind: 'anonymous' };

export interface AuditEntry {
  actor: Actor;
  /** A dotted verb: `partner.invited`, `application.created`, `secret.rotated`, … */
  action: string;
  subject?: string;
  partnerId?: string;
  requestId?: string;
  /** Context worth keeping (a name, a tier, ed-org ids). Never a secret, a token or a password. */
  detail?: Record<string, unknown>;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string | null;
  partner_id: string | null;
  request_id: string | null;
  detail: Record<string, unknown> | null;
}

export function actorName(actor: Actor): string {
  if (actor.kind === 'user') return `user:${actor.email}`;
  if (actor.kind === 'admin') return `admin:${actor.name}`;
  return 'anonymous';
}

/** Appends one event. The audit trail is append-only: this module has no update or delete. */
export async function audit(db: Db, entry: AuditEntry): Promise<void> {
  await db('audit_events').insert({
    at: Date.now(),
    actor: actorName(entry.actor),
    action: entry.action,
    subject: entry.subject ?? null,
    partner_id: entry.partnerId ?? (entry.actor.kind === 'user' ? entry.actor.partnerId : null),
    request_id: entry.requestId ?? null,
    detail: entry.detail ? JSON.stringify(entry.detail) : null,
  });
}

export async function listAudit(db: Db, filter: { partnerId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
  const query = db('audit_events').orderBy('id', 'desc').limit(filter.limit ?? 100);
  if (filter.partnerId) query.where({ partner_id: filter.partnerId });
  const rows = (await query.select('id', 'at', 'actor', 'action', 'subject', 'partner_id', 'request_id', 'detail')) as Array<
    Omit<AuditRecord, 'at' | 'detail'> & { at: number; detail: string | null }
  >;
  return rows.map((row) => ({ ...row, id: Number(row.id), at: new Date(Number(row.at)).toISOString(), detail: row.detail ? JSON.parse(row.detail) : null }));
}
