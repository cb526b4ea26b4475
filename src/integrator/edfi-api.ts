import { ApiError } from '../errors.js';
import { backoffMs, pause, retryAfterMs, ServerRefused } from './server-calls.js';

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
      throw new ServerRefused(answer.error ?? 'token_refused', `the token endpoint answered ${response.status} ${answer.error ?? ''}: ${answer.error_description ?? 'no detail'}`);
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
    if (!response.ok) throw new ServerRefused('pull_failed', `token_info answered ${response.status}`);
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
      throw new ServerRefused(answer.error ?? 'pull_failed', `GET ${path} answered ${response.status} ${answer.error ?? ''}: ${answer.detail ?? 'no detail'}`);
    }
  }

  private async retry(reason: string, ms: number): Promise<void> {
    this.counts.retried += 1;
    this.options.onWait?.(ms, reason);
    await pause(ms);
  }
}
