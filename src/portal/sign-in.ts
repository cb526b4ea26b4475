import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type Router from '@koa/router';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Context } from 'koa';

import { findUser } from './partners.js';
import { clearCookie, readCookie, setCookie } from './cookies.js';
import { currentSession, formOf, portalClientId, record, safeReturnTo, send, actorOf, type PortalDeps } from './context.js';
import { html } from './html.js';
import { derivedKey } from './seal.js';
import { newSessionId, type PortalSession, type SignInState } from './sessions.js';

const signInTtlMs = 10 * 60_000;

export const callbackPath = '/portal/callback';
export const signedOutPath = '/portal/signed-out';

/** The portal's own client secret: derived, never stored; the provider holds only its keyed hash. */
export function portalClientSecret(hashKey: Buffer): string {
  return derivedKey(hashKey, 'portal client secret').toString('base64url');
}

const random = () => randomBytes(32).toString('base64url');

/**
 * The portal is a relying party of edgate's own provider: authorization code + PKCE (S256), with
 * state and nonce. The code is exchanged on this instance's own socket, so the exchange never
 * leaves the host and works behind any proxy.
 */
export function signInRoutes(router: Router, deps: PortalDeps): void {
  const { config, sessions, cookies } = deps;
  const redirectUri = `${config.publicUrl}${callbackPath}`;

  router.get('/portal/sign-in', async (ctx) => {
    const id = newSessionId();
    const state: SignInState = { kind: 'sign-in', state: random(), nonce: random(), verifier: random(), returnTo: safeReturnTo(ctx.query.returnTo) };
    await sessions.set(id, state, signInTtlMs);
    setCookie(ctx, cookies, cookies.signIn, id, signInTtlMs / 1000);
    const query = new URLSearchParams({
      client_id: portalClientId,
      response_type: 'code',
      scope: 'openid email',
      redirect_uri: redirectUri,
      state: state.state,
      nonce: state.nonce,
      code_challenge: createHash('sha256').update(state.verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    ctx.status = 303;
    ctx.redirect(`/oauth/authorize?${query}`);
  });

  router.get(callbackPath, async (ctx) => {
    const signInId = readCookie(ctx, cookies.signIn);
    const pending = signInId ? await sessions.get(signInId) : undefined;
    if (signInId) {
      await sessions.delete(signInId);
      clearCookie(ctx, cookies, cookies.signIn);
    }
    if (pending?.kind !== 'sign-in' || typeof ctx.query.state !== 'string' || ctx.query.state !== pending.state) {
      return signInFailed(ctx, 'This sign-in attempt is not the one this browser started, or it took longer than ten minutes.');
    }
    if (typeof ctx.query.code !== 'string') return signInFailed(ctx, 'The sign-in was not completed.');
    const tokens = await exchangeCode(ctx, deps, ctx.query.code, pending.verifier, redirectUri);
    const claims = await verifyIdToken(deps, tokens.id_token, pending.nonce);
    const user = claims && (await findUser(deps.db, claims.sub));
    if (!user) return signInFailed(ctx, 'The sign-in could not be verified.');
    // A new session id at every sign-in: an id planted before sign-in (session fixation) is worthless, and the
    // browser's previous session, if any, ends here.
    const previous = readCookie(ctx, cookies.session);
    if (previous) await sessions.delete(previous);
    const id = newSessionId();
    const session: PortalSession = {
      kind: 'session',
      userId: user.id,
      partnerId: user.partnerId,
      email: user.email,
      csrf: random(),
      idToken: tokens.id_token,
      createdAt: Date.now(),
    };
    const ttlMs = config.portal.sessionHours * 3600_000;
    await sessions.set(id, session, ttlMs);
    setCookie(ctx, cookies, cookies.session, id, ttlMs / 1000);
    await record(ctx, deps, { actor: { kind: 'user', email: user.email, partnerId: user.partnerId }, action: 'user.signed_in' });
    ctx.status = 303;
    ctx.redirect(pending.returnTo);
  });

  /** Ends the portal session here, then the provider's through RP-initiated logout. */
  router.post('/portal/sign-out', async (ctx) => {
    const signedIn = await currentSession(ctx, deps);
    clearCookie(ctx, cookies, cookies.session);
    if (!signedIn) {
      ctx.status = 303;
      ctx.redirect('/portal');
      return;
    }
    await formOf(ctx, signedIn.session.csrf);
    await sessions.delete(signedIn.id);
    await record(ctx, deps, { actor: actorOf(signedIn), action: 'user.signed_out' });
    const query = new URLSearchParams({
      client_id: portalClientId,
      id_token_hint: signedIn.session.idToken,
      post_logout_redirect_uri: `${config.publicUrl}${signedOutPath}`,
    });
    ctx.status = 303;
    ctx.redirect(`/oauth/session/end?${query}`);
  });

  router.get(signedOutPath, async (ctx) => {
    send(ctx, {
      title: 'Signed out',
      body: html`<section class="card narrow"><h1>You are signed out</h1>
        <p class="lede">Your portal session and your edgate sign-in have both ended.</p>
        <p><a class="button" href="/portal/sign-in">Sign in again</a></p></section>`,
    });
  });
}

function signInFailed(ctx: Context, why: string): void {
  send(
    ctx,
    {
      title: 'Sign-in failed',
      body: html`<section class="card narrow"><h1>Sign-in failed</h1><p>${why}</p><p><a class="button" href="/portal/sign-in">Start again</a></p></section>`,
    },
    400,
  );
}

/** POSTs the code to this instance's own token endpoint, on the socket the browser's request came in on. */
async function exchangeCode(ctx: Context, deps: PortalDeps, code: string, verifier: string, redirectUri: string): Promise<{ id_token: string }> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri }).toString();
  const { localAddress, localPort, localFamily } = ctx.req.socket;
  const host = localFamily === 'IPv6' || localAddress?.includes(':') ? `[${localAddress}]` : localAddress;
  const basic = Buffer.from(`${encodeURIComponent(portalClientId)}:${encodeURIComponent(portalClientSecret(deps.hashKey))}`).toString('base64');
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      { host: host?.replace(/^\[|\]$/g, ''), port: localPort, path: '/oauth/token', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}`, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  if (answer.status !== 200) {
    deps.logger.warn({ status: answer.status, error: safeErrorCode(answer.text) }, 'portal code exchange refused');
    return { id_token: '' };
  }
  return JSON.parse(answer.text) as { id_token: string };
}

function safeErrorCode(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

/** The ID token's signature, issuer, audience, expiry and nonce; undefined when any of them is wrong. */
async function verifyIdToken(deps: PortalDeps, idToken: string, nonce: string): Promise<{ sub: string } | undefined> {
  if (!idToken) return undefined;
  try {
    const { payload } = await jwtVerify(idToken, createLocalJWKSet({ keys: deps.keyring.current.publicJwks }), {
      issuer: deps.config.publicUrl,
      audience: portalClientId,
      algorithms: ['RS256'],
    });
    if (payload.nonce !== nonce || typeof payload.sub !== 'string') return undefined;
    return { sub: payload.sub };
  } catch {
    return undefined;
  }
}
