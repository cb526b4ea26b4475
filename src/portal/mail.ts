import type { PortalConfig } from '../config/index.js';

export interface InviteMail {
  to: string;
  partnerName: string;
  link: string;
  expiresAt: number;
}

/** Sends the invite when SMTP_URL is set; false when there is no SMTP to send through (the link is printed instead). */
export async function mailInvite(config: PortalConfig, mail: InviteMail): Promise<boolean> {
  if (!config.smtpUrl) return false;
  // Loaded only when mail is configured: every CLI command would otherwise pay for it at start.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport(config.smtpUrl);
  try {
    await transport.sendMail({
      from: config.mailFrom,
      to: mail.to,
      subject: `Your edgate developer portal invitation (${mail.partnerName})`,
      text:
        `You have been invited to the edgate developer portal for ${mail.partnerName}.\n\n` +
        `Set your password here (the link works once, until ${new Date(mail.expiresAt).toUTCString()}):\n\n${mail.link}\n`,
    });
    return true;
  } finally {
    transport.close();
  }
}
