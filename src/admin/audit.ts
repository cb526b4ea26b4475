import { ApiError } from '../errors.js';
import { listAudit } from '../portal/audit.js';
import { flagString, table, type Command } from './context.js';

export const auditCommands: Record<string, Command> = {
  async list(ctx) {
    const raw = flagString(ctx.flags, 'limit') ?? '100';
    const limit = Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ApiError('invalid_field', `--limit must be 1–10000, got "${raw}"`);
    const events = await listAudit(ctx.db, { limit, partnerId: flagString(ctx.flags, 'partner') });
    const rows = events.map((e) => ({ ...e, detail: e.detail ? JSON.stringify(e.detail) : '' }));
    return { json: { events }, human: table(rows, ['id', 'at', 'actor', 'action', 'subject', 'partner_id', 'request_id', 'detail']) };
  },
};
