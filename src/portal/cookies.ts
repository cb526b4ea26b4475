import type { Context } from 'koa';

/**
 * The portal's cookies, written by hand rather than through Koa's cookie jar: Koa refuses a Secure
 * cookie on a plain-HTTP hop, and behind a TLS-terminating proxy every hop to edgate is plain HTTP.
 * With an https PUBLIC_URL the session cookie is `__Host-` prefixed: Secure, Path=/, no Domain.
 */
export interface CookieNames {
  session: string;
  signIn: string;
  secure: boolean;
}

export function cookieNames(publicUrl: string): CookieNames {
  const secure = publicUrl.startsWith('https:');
  return { session: secure ? '__Host-edgate_portal' : 'edgate_portal', signIn: secure ? '__Host-edgate_signin' : 'edgate_signin', secure };
}

export function setCookie(ctx: Context, names: CookieNames, name: string, value: string, maxAgeSeconds: number): void {
  const attributes = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`];
  if (names.secure) attributes.push('Secure');
  ctx.append('Set-Cookie', attributes.join('; '));
}

export function clearCookie(ctx: Context, names: CookieNames, name: string): void {
  setCookie(ctx, names, name, '', 0);
}

export function readCookie(ctx: Context, name: string): string | undefined {
  for (const part of (ctx.get('cookie') || '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
