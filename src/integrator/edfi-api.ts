import { ApiError } from '../errors.js';

/** The server refused a call: its own error code and words, for the CLI to pass on (not one of edgate's answers). */
export class PullRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PullRefused';
  }
}

/**
 * The consumer's side of the Ed-Fi API, for `edgate pull`: a client-credentials token, and GETs that wait out
 * `Retry-After` (429 from the rate limits, 503 from a database or limit store that does not answer) and retry other
 * 5xx answers and network errors with backoff. A 401 fetches a new token once (it expired during a long copy).
 */
export interface ApiOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Attempts per call for 5xx answers and network errors. */
  maxAttempts?: number;
  onWait?(ms: number, reason: string): void;
}

export interface Answer<T> {
  body: T;
  headers: Headers;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds from a Retry-After header (delta-seconds or an HTTP date); 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null): number {
  if (!header) return 1000;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? 1000 : Math.max(0, at - Date.now());
}

const backoffMs = (attempt: number) => Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

export class EdfiApi {
  readonly base: string;
  private token?: Promise<string>;
  /** Calls that waited out a Retry-After, and calls sent again after a failure. */
  readonly counts = { waited: 0, retried: 0 };

  constructor(private readonly options: ApiOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  private async newToken(): Promise<string> {
    const basic = Buffer.from(`${this.options.clientId}:${this.options.clientSecret}`).toString('base64');
    const response = await fetch(`${this.base}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }).catch((err: Error) => {
      throw new ApiError('unreachable', `cannot reach ${this.base}: ${err.message}`);
    });
    const answer = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
    if (!response.ok || !answer.access_token) {
      throw new PullRefused(answer.error ?? 'token_refused', `the token endpoint answered ${response.status} ${answer.error ?? ''}: ${answer.error_description ?? 'no detail'}`);
    }
    return answer.access_token;
  }

  private bearer(renew = false): Promise<string> {
    if (renew || !this.token) this.token = this.newToken();
    return this.token;
  }

  /** The client's own view of itself (resources it may read), from Ed-Fi's token_info. */
  async tokenInfo(): Promise<{ resources?: Array<{ resource: string; operations: string[] }> }> {
    const token = await this.bearer();
    const response = await fetch(`${this.base}/oauth/token_info`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    if (!response.ok) throw new PullRefused('pull_failed', `token_info answered ${response.status}`);
    return (await response.json()) as { resources?: Array<{ resource: string; operations: string[] }> };
  }

  /** GET a path under the base URL, as JSON, waiting and retrying as the server asks. */
  async get<T>(path: string): Promise<Answer<T>> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    let renewed = false;
    for (let failures = 0; ; ) {
      // Outside the try: a refused token is the server's answer, not a network error to retry.
      const token = await this.bearer();
      let response: Response;
      try {
        response = await fetch(`${this.base}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
      } catch (err) {
        if (++failures >= maxAttempts) throw new ApiError('unreachable', `cannot reach ${this.base}: ${(err as Error).message}`);
        await this.retry(`network error (${(err as Error).message})`, backoffMs(failures));
        continue;
      }
      if (response.ok) return { body: (await response.json()) as T, headers: response.headers };
      const answer = (await response.json().catch(() => ({}))) as { error?: string; detail?: string };
      if (response.status === 401 && !renewed) {
        renewed = true;
        await this.bearer(true);
        continue;
      }
      if (response.status === 429 || (response.status === 503 && response.headers.has('retry-after'))) {
        this.counts.waited += 1;
        const wait = retryAfterMs(response.headers.get('retry-after'));
        this.options.onWait?.(wait, response.status === 429 ? 'rate limited' : 'server busy');
        await pause(wait);
        continue;
      }
      if (response.status >= 500 && ++failures < maxAttempts) {
        await this.retry(`server answered ${response.status}`, backoffMs(failures));
        continue;
      }
      throw new PullRefused(answer.error ?? 'pull_failed', `GET ${path} answered ${response.status} ${answer.error ?? ''}: ${answer.detail ?? 'no detail'}`);
    }
  }

  private async retry(reason: string, ms: number): Promise<void> {
    this.counts.retried += 1;
    this.options.onWait?.(ms, reason);
    await pause(ms);
  }
}
