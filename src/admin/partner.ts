import { audit } from '../portal/audit.js';
import { mailInvite } from '../portal/mail.js';
import { createPartner, invite, listPartners, requirePartner } from '../portal/partners.js';
import { invitePath } from '../portal/paths.js';
import { ApiError } from '../errors.js';
import { adminActor, commandId } from './actor.js';
import { flagList, flagString, keyValues, table, type Command } from './context.js';

function edorgIds(values: string[] | undefined): number[] {
  return (values ?? []).map((value) => {
    const id = Number(value);
    if (!Number.isSafeInteger(id) || id <= 0) throw new ApiError('invalid_field', `--edorg must be an ed-org id, got "${value}"`);
    return id;
  });
}

const view = (p: { id: string; name: string; edorgIds: number[]; createdAt: number }) => ({
  partner_id: p.id,
  name: p.name,
  education_organization_ids: p.edorgIds,
  created_at: new Date(p.createdAt).toISOString(),
});

export const partnerCommands: Record<string, Command> = {
  async add(ctx) {
    const partner = await createPartner(ctx.db, { name: flagString(ctx.flags, 'name'), edorgIds: edorgIds(flagList(ctx.flags, 'edorg')) });
    await audit(ctx.db, { actor: adminActor(), action: 'partner.added', subject: partner.id, partnerId: partner.id, requestId: commandId, detail: { name: partner.name, edorgIds: partner.edorgIds } });
    return { json: view(partner), human: keyValues(view(partner)) };
  },
  async list(ctx) {
    const partners = (await listPartners(ctx.db)).map(view);
    return { json: { partners }, human: table(partners, ['partner_id', 'name', 'education_organization_ids']) };
  },
  /** A one-time link to set a password; mailed as well when SMTP_URL is configured. */
  async invite(ctx) {
    const partnerId = flagString(ctx.flags, 'partner');
    const email = flagString(ctx.flags, 'email');
    if (!partnerId || !email) throw new ApiError('missing_field', 'usage: edgate partner invite --partner PARTNER_ID --email ADDRESS');
    const partner = await requirePartner(ctx.db, partnerId);
    const { user, token, expiresAt } = await invite(ctx.db, await ctx.hashKey(), partner.id, email);
    const link = `${ctx.config.publicUrl}${invitePath(token)}`;
    // The invite exists by now: a mail server that refuses or is down must not lose the link, so it is printed anyway.
    const { mailed, mailError } = await mailInvite(ctx.config.portal, { to: user.email, partnerName: partner.name, link, expiresAt }).then(
      (sent) => ({ mailed: sent, mailError: undefined }),
      (err: Error) => ({ mailed: false, mailError: err.message }),
    );
    await audit(ctx.db, { actor: adminActor(), action: 'user.invited', subject: user.email, partnerId: partner.id, requestId: commandId, detail: { mailed } });
    const json = { email: user.email, partner_id: partner.id, invite_url: link, expires_at: new Date(expiresAt).toISOString(), mailed, ...(mailError && { mail_error: mailError }) };
    const note = mailed ? `Mailed to ${user.email}.` : mailError ? `Mailing it failed (${mailError}): send the link yourself.` : 'No SMTP_URL is configured: send the link yourself.';
    return { json, human: `${link}\n\nThe link works once, until ${json.expires_at}. ${note}` };
  },
};
