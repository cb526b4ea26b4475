/** Portal URLs that other layers (the CLI, mail) print. */
export const portalBase = '/portal';

/** The invite token travels in the query string: access logs record the path only. */
export const invitePath = (token: string) => `${portalBase}/invite?token=${encodeURIComponent(token)}`;
