import type { HourUsage } from '../gateway/usage.js';
import { html, type Html } from './html.js';

const width = 720;
const height = 200;
const pad = { left: 44, right: 8, top: 12, bottom: 26 };

/**
 * The last 24 hours as a server-rendered SVG bar chart: admitted calls stacked under 429s. No
 * script, so it draws in any browser; a table carries the same numbers for screen readers.
 */
export function usageChart(hours: HourUsage[]): Html {
  const max = Math.max(1, ...hours.map((h) => h.admitted + h.limited));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const barW = plotW / hours.length;
  const y = (value: number) => (value / max) * plotH;
  const bars = hours.map((h, i) => {
    const x = pad.left + i * barW + 2;
    const okH = y(h.admitted);
    const badH = y(h.limited);
    const label = new Date(h.hourStart).toISOString().slice(11, 16);
    return html`<g><title>${label} UTC: ${h.admitted} admitted, ${h.limited} refused (429)</title>
      <rect x="${x.toFixed(1)}" y="${(pad.top + plotH - okH).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${okH.toFixed(1)}" fill="#1f5fbf"></rect>
      <rect x="${x.toFixed(1)}" y="${(pad.top + plotH - okH - badH).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${badH.toFixed(1)}" fill="#b3261e"></rect>
      ${i % 3 === 0 ? html`<text x="${(x + barW / 2 - 2).toFixed(1)}" y="${height - 8}" text-anchor="middle">${label}</text>` : ''}</g>`;
  });
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Calls per hour over the last 24 hours: admitted in blue, refused with 429 in red">
    <line x1="${pad.left}" y1="${pad.top + plotH}" x2="${width - pad.right}" y2="${pad.top + plotH}" stroke="#8a94a3"></line>
    <text x="${pad.left - 6}" y="${pad.top + 8}" text-anchor="end">${max}</text>
    <text x="${pad.left - 6}" y="${pad.top + plotH}" text-anchor="end">0</text>
    ${bars}
  </svg>`;
}
