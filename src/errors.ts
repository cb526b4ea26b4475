/**
 * The one error class. Handlers throw it; the HTTP error handler turns it into the body shape the
 * contract wants for the path (problem details under /data/, RFC 6749 under /oauth/, else JSON).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail?: string,
    /** Extra members for the body (e.g. `field`, `max`, `validationErrors`). */
    readonly extra: Record<string, unknown> = {},
    /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? code);
    this.name = 'ApiError';
  }
}

/** Authorisation outcomes are values; `toApiError` maps a refusal to HTTP in one place. */
export type Decision = { ok: true } | { ok: false; status: 403 | 404 | 409; code: string; detail: string };

export const allow: Decision = { ok: true };

export function deny(code: string, detail: string, status: 403 | 404 | 409 = 403): Decision {
  return { ok: false, status, code, detail };
}

export function enforce(decision: Decision): void {
  if (!decision.ok) throw new ApiError(decision.status, decision.code, decision.detail);
}
