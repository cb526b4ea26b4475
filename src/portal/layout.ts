import { html, type Html } from './html.js';

export interface Page {
  title: string;
  body: Html;
  /** The signed-in person; absent on public pages. */
  user?: { email: string; partnerName: string; csrf: string };
  /** Which top-level section is current, for the navigation's aria-current. */
  section?: 'apps' | 'access' | 'quick-start' | 'docs' | 'activity';
}

const nav: Array<[NonNullable<Page['section']>, string, string]> = [
  ['apps', 'Applications', '/portal/apps'],
  ['access', 'School access', '/portal/access'],
  ['activity', 'Activity', '/portal/activity'],
  ['quick-start', 'Quick start', '/portal/quick-start'],
  ['docs', 'API reference', '/docs'],
];

/** The one page frame: header, navigation, main landmark, footer. */
export function layout(page: Page): string {
  const links = page.user
    ? nav.map(([key, label, href]) => html`<a href="${href}" ${page.section === key ? html`aria-current="page"` : ''}>${label}</a>`)
    : [html`<a href="/docs" ${page.section === 'docs' ? html`aria-current="page"` : ''}>API reference</a>`];
  const account = page.user
    ? html`<form method="post" action="/portal/sign-out" class="account">
        <span class="who">${page.user.email}<small>${page.user.partnerName}</small></span>
        <input type="hidden" name="csrf" value="${page.user.csrf}">
        <button type="submit" class="button quiet">Sign out</button>
      </form>`
    : html`<a class="button quiet" href="/portal/sign-in">Sign in</a>`;
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · edgate developer portal</title>
<link rel="stylesheet" href="/portal/assets/portal.css">
<script src="/portal/assets/portal.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/portal"><span class="logo" aria-hidden="true">e</span>edgate <span class="brand-sub">developers</span></a>
  <nav aria-label="Main">${links}</nav>
  ${account}
</header>
<main id="main">
${page.body}
</main>
<footer class="foot"><p>edgate · Ed-Fi API and OAuth 2.0 for education data</p></footer>
</body>
</html>`.value;
}
