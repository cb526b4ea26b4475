/**
 * The error catalogue: every code edgate answers with, its HTTP status, and how it is rendered as a problem detail
 * (RFC 9457) under /data/: its `type` and `title`, and the ODS/API's fixed `detail` text where it has one (the
 * specific reason then goes into `errors`). In the manner of oidc-provider's `lib/helpers/errors.js`: one table, read
 * by the error renderer and the OpenAPI document; handlers throw `new ApiError(code, …)` and never pick a status.
 */
export interface Problem {
  status: number;
  /** Problem `title`; absent: the status's own title. */
  title?: string;
  /** Problem `type`; absent: `urn:ed-fi:api:<code, dashed>`. */
  type?: string;
  /** The ODS/API's fixed `detail` for this code, where it has one. */
  detail?: string;
  /** Other statuses the same code answers with, where the ODS/API or a standard uses one code for both. */
  also?: readonly number[];
  /**
   * The ODS/API's fixed `detail` for named variants of the code, where it words one outcome by what was asked (a 404
   * on a read by id, an update, a delete); the code stays the same for clients.
   */
  variants?: Readonly<Record<string, string>>;
}

const dataPolicyIncorrectUsage = {
  status: 403,
  type: 'urn:ed-fi:api:security:data-policy:incorrect-usage',
  title: 'Data Policy Failure Due to Incorrect Usage',
  detail: 'A data policy failure was encountered. The request was not constructed correctly for the data policy that has been applied to this data for the caller.',
} as const;

const invalidProfileUsage = {
  type: 'urn:ed-fi:api:profile:invalid-profile-usage',
  title: 'Invalid Profile Usage',
  detail: 'The request construction was invalid with respect to usage of a data policy.',
} as const;

const authenticationFailed = { status: 401, type: 'urn:ed-fi:api:security:authentication', title: 'Authentication Failed', detail: 'The caller could not be authenticated.' } as const;

// draft-ietf-httpapi-ratelimit-headers §"Quota Exceeded", with its `violated-policies` member.
const quotaExceeded = { status: 429, type: 'https://iana.org/assignments/http-problem-types#quota-exceeded', title: 'Too Many Requests' } as const;

const upstream = (status: number, code: string, title: string): Problem => ({ status, title, type: `urn:edgate:problem:${code.replace(/_/g, '-')}` });

export const errorCatalogue = {
  // 400: the request itself is wrong
  bad_request: { status: 400, type: 'urn:ed-fi:api:bad-request:parameter-validation-failed', title: 'Parameter Validation Failed', detail: 'Parameters supplied to the request were invalid.' },
  // The ODS/API words a collection query it cannot run (paging, page tokens, filters, partitions) differently from
  // other parameter problems; its suites check both texts.
  invalid_query: { status: 400, type: 'urn:ed-fi:api:bad-request:parameter-validation-failed', title: 'Parameter Validation Failed', detail: 'The request construction was invalid.' },
  invalid_json: { status: 400, type: 'urn:ed-fi:api:bad-request', title: 'Bad Request', detail: "The request could not be processed. See 'errors' for details." },
  invalid_request: { status: 400, type: 'urn:ed-fi:api:bad-request', title: 'Bad Request', also: [401] },
  request_aborted: { status: 400 },
  data_validation_failed: {
    status: 400,
    type: 'urn:ed-fi:api:bad-request:data-validation-failed',
    title: 'Data Validation Failed',
    detail: "Data validation failed. See 'validationErrors' for details.",
    // A body that is valid but built wrong for the request (an id in a POST), its reason in `errors`.
    variants: { construction: 'The request data was constructed incorrectly.' },
  },
  key_change_not_supported: { status: 400, type: 'urn:ed-fi:api:bad-request:data-validation-failed:key-change-not-supported', title: 'Key Change Not Supported' },
  data_policy_enforced: {
    status: 400,
    type: 'urn:ed-fi:api:bad-request:data-policy-enforced',
    title: 'Data Policy Enforced',
    detail: 'The data cannot be saved because a data policy has been applied to the request that prevents it.',
  },
  invalid_parameter: { status: 400 },
  missing_parameter: { status: 400 },
  invalid_date: { status: 400 },
  invalid_date_range: { status: 400 },
  invalid_field: { status: 400 },
  missing_field: { status: 400 },
  invalid_scope: { status: 400 },
  unsupported_grant_type: { status: 400 },
  missing_secret: { status: 400 },
  invalid_tier: { status: 400 },
  invalid_claim_set: { status: 400 },
  invalid_parent: { status: 400 },
  unknown_parent: { status: 400 },
  invalid_target: { status: 400 },
  unknown_resource: { status: 400 },
  unknown_edorg: { status: 400, also: [404] },
  invalid_file: { status: 400 },
  unreadable_file: { status: 400 },
  invalid_row: { status: 400 },
  malformed_profile_media_type: { status: 400, ...invalidProfileUsage },
  profile_usage_mismatch: { status: 400, ...invalidProfileUsage },
  invalid_profile_usage: { status: 400, type: invalidProfileUsage.type, title: invalidProfileUsage.title },
  // 401: who is calling is unknown
  missing_token: authenticationFailed,
  invalid_token: authenticationFailed,
  invalid_client: { status: 401 },
  unauthorized: { status: 401 },
  missing_assertion: { status: 401 },
  invalid_assertion: { status: 401 },
  // 403: known, and not allowed
  authorization_denied: { status: 403, type: 'urn:ed-fi:api:security:authorization', title: 'Authorization Denied' },
  namespace_not_permitted: { status: 403, type: 'urn:ed-fi:api:security:authorization:namespace:access-denied:namespace-mismatch', title: 'Authorization Denied' },
  // The ownership strategy: the item's creator token is not one the caller holds, or the item has none.
  ownership_mismatch: { status: 403, type: 'urn:ed-fi:api:security:authorization:ownership:access-denied:ownership-mismatch', title: 'Authorization Denied' },
  ownership_uninitialized: { status: 403, type: 'urn:ed-fi:api:security:authorization:ownership:invalid-data:ownership-uninitialized', title: 'Authorization Denied' },
  school_not_approved: { status: 403 },
  school_not_permitted: { status: 403 },
  csrf_token_invalid: { status: 403 },
  profile_required: dataPolicyIncorrectUsage,
  profile_not_assigned: dataPolicyIncorrectUsage,
  profile_not_defined: dataPolicyIncorrectUsage,
  // 404
  not_found: {
    status: 404,
    type: 'urn:ed-fi:api:not-found',
    title: 'Not Found',
    detail: 'The specified data could not be found.',
    variants: { item: 'The specified item could not be found.', update: 'Resource to update was not found.', delete: 'Resource to delete was not found.' },
  },
  snapshot_not_configured: { status: 404, type: 'urn:ed-fi:api:not-found', title: 'Not Found' },
  unknown_client: { status: 404 },
  unknown_application: { status: 404 },
  unknown_access_request: { status: 404 },
  unknown_partner: { status: 404 },
  unknown_secret: { status: 404 },
  // 405, 406, 415: method and media type
  method_not_allowed: { status: 405, type: 'urn:ed-fi:api:method-not-allowed', title: 'Method Not Allowed', detail: 'The request construction was invalid.' },
  snapshot_read_only: { status: 405, type: 'urn:ed-fi:api:snapshots:method-not-allowed', title: 'Method Not Allowed with Snapshots' },
  profile_method_not_allowed: { status: 405, type: 'urn:ed-fi:api:profile:method-usage', title: 'Method Not Allowed' },
  invalid_profile: { status: 406, ...invalidProfileUsage },
  // 406 for a read (nothing can be served), 415 for a write (nothing can be accepted), as the ODS/API answers;
  // 400 when an admin assigns a profile that is not defined.
  unknown_profile: { status: 406, ...invalidProfileUsage, also: [415, 400] },
  unsupported_media_type: { status: 415 },
  // 409, 412: the state of the data
  unresolved_reference: { status: 409, type: 'urn:ed-fi:api:data-conflict:unresolved-reference', title: 'Unresolved Reference' },
  dependent_item_exists: { status: 409, type: 'urn:ed-fi:api:data-conflict:dependent-item-exists', title: 'Dependent Item Exists' },
  write_conflict: { status: 409, type: 'urn:ed-fi:api:conflict:write-conflict', title: 'Conflict' },
  // The ODS/API answers a natural-key collision as a conflict too.
  identity_conflict: { status: 409, type: 'urn:ed-fi:api:conflict:write-conflict:natural-key', title: 'Conflict' },
  duplicate_id: { status: 409 },
  type_change: { status: 409 },
  email_taken: { status: 409 },
  already_decided: { status: 409 },
  not_pending: { status: 409 },
  optimistic_lock_failed: { status: 412, type: 'urn:ed-fi:api:optimistic-lock-failed', title: 'Optimistic Lock Failed', detail: 'The item has been modified by another user.' },
  // 413, 429: too much
  payload_too_large: { status: 413 },
  batch_too_large: { status: 413 },
  rate_limited: quotaExceeded,
  cost_quota_exceeded: quotaExceeded,
  // 5xx: edgate or what it depends on
  internal_error: { status: 500, type: 'urn:ed-fi:api:system', title: 'Internal Server Error' },
  not_implemented: { status: 501 },
  unreachable: { status: 502 },
  upstream_unavailable: upstream(502, 'upstream_unavailable', 'Bad Gateway'),
  upstream_circuit_open: upstream(503, 'upstream_circuit_open', 'Service Unavailable'),
  upstream_timeout: upstream(504, 'upstream_timeout', 'Gateway Timeout'),
  database_unavailable: { status: 503, type: 'urn:ed-fi:api:system:database-unavailable', title: 'Service Unavailable' },
  // RFC 6749's name for the same state, on the token endpoints.
  temporarily_unavailable: { status: 503 },
  not_configured: { status: 503 },
  rate_limit_unavailable: { status: 503 },
  revocation_unavailable: { status: 503 },
  redis_unavailable: { status: 503 },
} as const satisfies Record<string, Problem>;

export type ErrorCode = keyof typeof errorCatalogue;

/** What a resource item was wanted for when it was not found: the ODS/API words each 404 by it. */
export type NotFoundVariant = keyof (typeof errorCatalogue)['not_found']['variants'];

const statusTitles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Authentication Failed',
  403: 'Authorization Denied',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A code's problem `type`, `title` and fixed `detail` (the variant's, where it names one), defaults filled in. */
export function problemOf(code: ErrorCode, status: number, variant?: string): { type: string; title: string; detail?: string } {
  const entry: Problem = errorCatalogue[code];
  const detail = (variant !== undefined ? entry.variants?.[variant] : undefined) ?? entry.detail;
  return { type: entry.type ?? `urn:ed-fi:api:${code.replace(/_/g, '-')}`, title: entry.title ?? statusTitles[status] ?? 'Error', detail };
}

/**
 * The one error class. Handlers throw it; the HTTP error handler turns it into the body shape the
 * contract wants for the path (problem details under /data/, RFC 6749 under /oauth/, else JSON).
 */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    /** Extra members for the body (e.g. `field`, `max`, `validationErrors`). */
    readonly extra: Record<string, unknown> = {},
    /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
    /** Only one of the code's catalogued `also` statuses; otherwise the catalogue's. */
    status?: number,
    /** Only one of the code's catalogued `variants`: its fixed detail replaces the code's. */
    readonly variant?: string,
  ) {
    super(detail ?? code);
    this.name = 'ApiError';
    const entry: Problem = errorCatalogue[code];
    if (status !== undefined && status !== entry.status && !entry.also?.includes(status)) {
      throw new TypeError(`error code ${code} is not catalogued with status ${status}`);
    }
    if (variant !== undefined && entry.variants?.[variant] === undefined) {
      throw new TypeError(`error code ${code} has no catalogued variant ${variant}`);
    }
    this.status = status ?? entry.status;
  }
}

/**
 * A resource item that is not there (or not visible: the caller learns nothing more), worded by what it was wanted
 * for; `detail` is the specific reason (the problem's `errors`).
 */
export function notFound(detail: string, variant?: NotFoundVariant): ApiError {
  return new ApiError('not_found', detail, {}, {}, undefined, variant);
}

/** Authorisation outcomes are values; `enforce` maps a refusal to HTTP in one place. */
export type Decision = { ok: true } | { ok: false; code: ErrorCode; detail: string; errors?: string[] };

export const allow: Decision = { ok: true };

/** A refusal; `errors` are its specific reasons, in the problem's `errors` (the ODS/API's wording where it has one). */
export function deny(code: ErrorCode, detail: string, errors?: string[]): Decision {
  return { ok: false, code, detail, ...(errors && { errors }) };
}

export function enforce(decision: Decision): void {
  if (!decision.ok) throw new ApiError(decision.code, decision.detail, decision.errors ? { errors: decision.errors } : {});
}
