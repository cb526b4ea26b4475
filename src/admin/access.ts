import { ApiError } from '../errors.js';
import { approveAccessRequest, denyAccessRequest, listAccessRequests, type AccessRequest, type AccessRequestStatus } from '../portal/access-requests.js';
import { actorName, audit } from '../portal/audit.js';
import { adminActor, commandId } from './actor.js';
import { flagString, keyValues, table, type AdminContext, type Command } from './context.js';

const statuses: AccessRequestStatus[] = ['pending', 'approved', 'denied'];

const view = (r: AccessRequest) => ({
  id: r.id,
  partner_id: r.partnerId,
  partner: r.partnerName,
  education_organization_ids: r.edorgIds,
  reason: r.reason,
  status: r.status,
  decided_by: r.decidedBy,
  decided_at: r.decidedAt === null ? null : new Date(r.decidedAt).toISOString(),
  note: r.decisionNote,
  created_at: new Date(r.createdAt).toISOString(),
});

function requestIdArg({ args }: AdminContext): string {
  if (!args[0]) throw new ApiError('missing_field', 'name the request: edgate access approve|deny REQUEST_ID [--note "…"]');
  return args[0];
}

async function decide(ctx: AdminContext, approve: boolean) {
  const actor = adminActor();
  const note = flagString(ctx.flags, 'note');
  const decided = await (approve ? approveAccessRequest : denyAccessRequest)(ctx.db, requestIdArg(ctx), actorName(actor), note);
  await audit(ctx.db, {
    actor,
    action: approve ? 'access.approved' : 'access.denied',
    subject: decided.id,
    partnerId: decided.partnerId,
    requestId: commandId,
    detail: { edorgIds: decided.edorgIds },
  });
  return { json: view(decided), human: keyValues(view(decided)) };
}

export const accessCommands: Record<string, Command> = {
  async list(ctx) {
    const status = flagString(ctx.flags, 'status') as AccessRequestStatus | undefined;
    if (status && !statuses.includes(status)) throw new ApiError('invalid_field', `--status must be one of ${statuses.join('|')}`);
    const requests = (await listAccessRequests(ctx.db, { status, partnerId: flagString(ctx.flags, 'partner') })).map(view);
    return { json: { requests }, human: table(requests, ['id', 'partner', 'education_organization_ids', 'status', 'created_at', 'reason']) };
  },
  approve: (ctx) => decide(ctx, true),
  deny: (ctx) => decide(ctx, false),
};
