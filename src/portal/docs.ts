import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Router from '@koa/router';

import { fromRoot } from '../config/paths.js';
import { listApplications } from './applications.js';
import { currentSession, send, userOf, type PortalDeps } from './context.js';
import { html } from './html.js';

const require = createRequire(import.meta.url);
/** swagger-ui-dist: Swagger's own prebuilt bundle, served from node_modules — no CDN. */
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));
const swaggerFiles: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};
const portalAssets: Record<string, string> = {
  'portal.css': 'text/css; charset=utf-8',
  'portal.js': 'application/javascript; charset=utf-8',
  'docs.css': 'text/css; charset=utf-8',
};

/** Read once at start: small, immutable files. */
function load(dir: string, files: Record<string, string>): Map<string, { type: string; body: Buffer }> {
  return new Map(Object.entries(files).map(([name, type]) => [name, { type, body: readFileSync(join(dir, name)) }]));
}

export function docsRoutes(router: Router, deps: PortalDeps): void {
  const swagger = load(swaggerDir, swaggerFiles);
  const assets = load(fromRoot('src', 'portal', 'assets'), portalAssets);
  // docs.js starts Swagger UI: a file rather than inline script, so the Content-Security-Policy stays script-src 'self'.
  const starter = Buffer.from(
    // deepLinking off: its links inside the operation buttons are nested interactive controls (axe-core).
    // The servers drop-down gets the accessible name Swagger UI does not give it.
    "window.addEventListener('load',function(){window.ui=SwaggerUIBundle({url:'/metadata/openapi.json',dom_id:'#api',deepLinking:false,defaultModelsExpandDepth:0," +
      "onComplete:function(){var s=document.getElementById('servers');if(s)s.setAttribute('aria-label','Server');}});});",
  );

  router.get('/docs/assets/:file', (ctx) => {
    const file = ctx.params.file === 'docs.js' ? { type: 'application/javascript; charset=utf-8', body: starter } : swagger.get(ctx.params.file);
    if (!file) return;
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  });
  router.get('/portal/assets/:file', (ctx) => {
    const file = assets.get(ctx.params.file);
    if (!file) return;
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = file.body;
  });

  router.get('/docs', async (ctx) => {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · edgate developer portal</title>
<link rel="stylesheet" href="/portal/assets/portal.css"><link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="stylesheet" href="/portal/assets/docs.css">
<script src="/docs/assets/swagger-ui-bundle.js" defer></script><script src="/docs/assets/docs.js" defer></script>
</head><body>
<header class="top"><a class="brand" href="/portal"><span class="logo" aria-hidden="true">e</span>edgate <span class="brand-sub">developers</span></a>
<nav aria-label="Main"><a href="/portal/apps">Applications</a><a href="/portal/quick-start">Quick start</a><a href="/docs" aria-current="page">API reference</a></nav></header>
<main id="main"><h1 class="docs-title">API reference</h1>
<p class="lede">Rendered from <a href="/metadata/openapi.json">/metadata/openapi.json</a>. Needs JavaScript; the JSON document is the same contract without it.</p>
<div id="api"></div></main></body></html>`;
  });

  router.get('/portal/quick-start', async (ctx) => {
    const me = await currentSession(ctx, deps);
    const apps = me ? await listApplications(deps.db, me.partner.id) : [];
    const wanted = typeof ctx.query.app === 'string' ? ctx.query.app : undefined;
    const app = apps.find((a) => a.clientId === wanted) ?? apps[0];
    const base = deps.config.publicUrl;
    const clientId = app?.clientId ?? '<client_id>';
    const school = (app && (await deps.db('client_edorgs as ce').join('edorg_closure as c', 'c.ancestor_id', 'ce.edorg_id').join('education_organizations as e', 'e.id', 'c.descendant_id').where('ce.client_id', app.clientId).where('e.type', 'school').orderBy('e.id').first('e.id'))?.id) ?? '255901001';
    const tokenCurl = `curl -s -X POST ${base}/oauth/token -H 'content-type: application/json' \\
  -d '{"client_id":"${clientId}","client_secret":"<client_secret>","audience":"${deps.config.audience}","grant_type":"client_credentials"}'`;
    const callCurl = `TOKEN=$(curl -s -X POST ${base}/oauth/token -u '${clientId}:<client_secret>' -d grant_type=client_credentials \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')

curl -s -H "Authorization: Bearer $TOKEN" '${base}/stats/v1/attendance/summary?school_id=${school}'`;
    send(ctx, {
      title: 'Quick start',
      section: 'quick-start',
      user: me && userOf(me),
      body: html`<h1>Quick start</h1>
        <p class="lede">Register an application, get a token with its credentials, make your first call. ${app ? html`Filled in for <strong>${app.name}</strong>.` : me ? html`<a href="/portal/apps">Create an application</a> and its client_id appears here.` : html`<a href="/portal/sign-in?returnTo=/portal/quick-start">Sign in</a> to see your client_id here.`}</p>
        ${apps.length > 1 ? html`<form method="get" action="/portal/quick-start" class="actions"><label for="app">Application</label><select id="app" name="app">${apps.map((a) => html`<option value="${a.clientId}" ${a === app ? html`selected` : ''}>${a.name}</option>`)}</select><button class="button quiet" type="submit">Show</button></form>` : ''}
        <section class="card"><h2>1. Get a token</h2><p>Token endpoint: <code>${base}/oauth/token</code> · audience: <code>${deps.config.audience}</code></p><pre tabindex="0"><code>${tokenCurl}</code></pre>
          <p class="muted">Answer: <code>{"access_token":"eyJ…","expires_in":${deps.config.tokenTtlSeconds},"token_type":"Bearer"}</code>. Reuse the token until it expires.</p></section>
        <section class="card"><h2>2. Call the API</h2><p>API base: <code>${base}/data/v3/ed-fi/</code> and <code>${base}/stats/v1/</code></p><pre tabindex="0"><code>${callCurl}</code></pre>
          <p class="muted">Every answer carries <code>RateLimit</code> headers; a <code>429</code> says when to retry in <code>Retry-After</code>.</p></section>
        <section class="card"><h2>3. Explore</h2><p>The <a href="/docs">API reference</a> lists every resource, its fields and its errors.</p></section>`,
    });
  });

  router.get('/portal', async (ctx) => {
    if (await currentSession(ctx, deps)) {
      ctx.status = 303;
      return ctx.redirect('/portal/apps');
    }
    send(ctx, {
      title: 'Developer portal',
      body: html`<section class="card narrow"><h1>edgate for developers</h1>
        <p class="lede">Register your application, choose a subscription tier, retrieve credentials, and make your first authenticated call to the Ed-Fi API.</p>
        <div class="actions"><a class="button" href="/portal/sign-in">Sign in</a><a class="button quiet" href="/portal/quick-start">Quick start</a><a class="button quiet" href="/docs">API reference</a></div>
        <p class="muted">Accounts are by invitation from your edgate administrator.</p></section>`,
    });
  });
}
