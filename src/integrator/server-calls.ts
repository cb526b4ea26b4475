/** What the integrator clients (`edgate sis push`, `edgate pull`) share: how they wait, and how a refusal reads. */

/** The server refused a call: its own error code and words, for the CLI to pass on (not one of edgate's answers). */
export class ServerRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServerRefused';
  }
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds from a Retry-After header (delta-seconds or an HTTP date); 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null): number {
  if (!header) return 1000;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? 1000 : Math.max(0, at - Date.now());
}

/** Exponential backoff with jitter after a failed attempt: 250 ms doubling, capped at 8 s. */
export const backoffMs = (attempt: number) => Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
