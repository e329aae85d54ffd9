/**
 * Access tokens for SASL XOAUTH2 from an OAuth 2.0 token endpoint (RFC 6749 s.4.4 client_credentials,
 * s.6 refresh_token), as Microsoft's identity platform and Google issue them for POP3.
 */
import {
  bounded,
  type Clock,
  CredentialsError,
  type CredentialsProvider,
  type OAuth2Secret,
  safeCause,
  scrub,
  type TokenCredentials,
} from './credentials-provider.js';

/**
 * Both providers answer in well under a second; 10 s rides out a slow cold path, and is a small slice
 * of a scheduled run's budget when the endpoint is down and the run has to give up.
 */
export const DEFAULT_TOKEN_REQUEST_TIMEOUT_MS = 10_000;

/**
 * A cached token is refreshed this long before `expires_in` says it ends. It has to outlive the path
 * from get() to the server checking it: a POP3 connect (15 s default), greeting (30 s) and the AUTH
 * exchange, plus retries of that connect. Five minutes covers that several times over and costs
 * little against the usual one-hour lifetime (Google 3599 s, Microsoft 60-90 min).
 */
export const EXPIRY_SAFETY_MARGIN_MS = 5 * 60_000;

/**
 * A token response is a few KiB (a Microsoft access token with many group claims reaches ~10 KiB);
 * 256 KiB is far above that and still bounds what a hostile or broken endpoint can make us buffer.
 */
export const MAX_TOKEN_RESPONSE_OCTETS = 256 * 1024;

/** Enough of an error_description for Microsoft's "AADSTS70008: ... Trace ID: ..." to be useful. */
const MAX_ERROR_DESCRIPTION = 300;

/** RFC 6749 s.5.2: the `error` value is 1*( %x20-21 / %x23-5B / %x5D-7E ). Anything else is not echoed. */
const OAUTH_ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

/** Statuses that mean "not now" rather than "not this": worth the next scheduled run trying again. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429]);

/** RFC 6749 error codes whose cause sits in our configuration or the grant itself, with the fix. */
const REJECTION_HINTS: Readonly<Record<string, (secret: OAuth2Secret) => string>> = {
  invalid_grant: (s) =>
    s.grant === 'refresh_token'
      ? 'the refresh token is expired, revoked or belongs to another client: run the consent flow again and store the new refreshToken in the secret'
      : 'the grant was refused: check that an admin granted and consented the app for this scope',
  invalid_client: () =>
    'the client is unknown or its secret is wrong or expired: check clientId and clientSecret (an expired client secret must be replaced in the app registration)',
  unauthorized_client: (s) =>
    `the app may not use grant "${s.grant}": enable it in the app registration`,
  invalid_scope: (s) =>
    s.grant === 'client_credentials'
      ? 'check scope (for Exchange Online: https://outlook.office365.com/.default)'
      : 'check scope (it must be within what the user consented to)',
  unsupported_grant_type: (s) =>
    `the endpoint does not support grant "${s.grant}": check tokenEndpoint and grant`,
  invalid_request: () =>
    'the endpoint refused the request as malformed: check tokenEndpoint, clientId and scope',
};

/** OAuth error codes a server may send with a 4xx that still mean "try again later". */
const RETRYABLE_ERRORS: ReadonlySet<string> = new Set(['temporarily_unavailable', 'server_error']);

export interface OAuth2TokenProviderOptions {
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Default: performance.now(), steady across wall-clock steps. */
  clock?: Clock;
  /** Bound on one token request, response body included. Default DEFAULT_TOKEN_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /**
   * The endpoint issued a new refresh token (Microsoft does on most refreshes). Persist it: providers
   * with reuse detection revoke the old one. get() waits for this and fails if it throws; the next
   * get() tries to persist it again before anything else.
   */
  onRefreshTokenRotated?: (refreshToken: string) => Promise<void>;
}

interface CachedToken {
  accessToken: string;
  /** Clock time from which the token is no longer handed out; null: never cached (no expires_in). */
  refreshAt: number | null;
}

const steadyClock: Clock = { now: () => performance.now() };

export class OAuth2TokenProvider implements CredentialsProvider {
  readonly #secret: OAuth2Secret;
  readonly #fetch: typeof fetch;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #onRotated: ((refreshToken: string) => Promise<void>) | undefined;
  /** Where messages say the request went: origin and path, never the query. */
  readonly #endpointLabel: string;
  #refreshToken: string | undefined;
  /** Every secret value this provider has held, so error text can be scrubbed of all of them. */
  readonly #known: Set<string> = new Set();
  #cached: CachedToken | null = null;
  /** A rotated refresh token whose persisting failed; retried before the next token is handed out. */
  #unsaved: string | null = null;
  #inflight: Promise<string> | null = null;

  constructor(secret: OAuth2Secret, options: OAuth2TokenProviderOptions = {}) {
    this.#secret = secret;
    this.#fetch = options.fetch ?? fetch;
    this.#clock = options.clock ?? steadyClock;
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new RangeError('requestTimeoutMs must be a positive number of milliseconds');
    }
    this.#onRotated = options.onRefreshTokenRotated;
    this.#refreshToken = secret.refreshToken;
    const url = new URL(secret.tokenEndpoint);
    this.#endpointLabel = `${url.origin}${url.pathname}`;
    for (const value of [secret.clientSecret, secret.refreshToken]) {
      if (value !== undefined) this.#known.add(value);
    }
  }

  /** The refresh token in use now: the stored one, or the latest the endpoint rotated to. */
  get refreshToken(): string | undefined {
    return this.#refreshToken;
  }

  async get(): Promise<TokenCredentials> {
    const accessToken = await this.#token();
    return { user: this.#secret.username, accessToken, method: 'xoauth2' };
  }

  invalidate(): void {
    this.#cached = null;
  }

  #token(): Promise<string> {
    // One request serves every caller that arrives while it runs.
    if (this.#inflight !== null) return this.#inflight;
    const cached = this.#usableCached();
    if (cached !== null && this.#unsaved === null) return Promise.resolve(cached);
    this.#inflight = this.#obtain().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  #usableCached(): string | null {
    const cached = this.#cached;
    if (cached === null || cached.refreshAt === null) return null;
    return this.#clock.now() < cached.refreshAt ? cached.accessToken : null;
  }

  async #obtain(): Promise<string> {
    let accessToken = this.#usableCached();
    if (accessToken === null) {
      const issued = await this.#request();
      accessToken = issued.accessToken;
      this.#cached = issued;
    }
    await this.#persistRotated();
    return accessToken;
  }

  async #persistRotated(): Promise<void> {
    const token = this.#unsaved;
    if (token === null || this.#onRotated === undefined) {
      this.#unsaved = null;
      return;
    }
    try {
      await this.#onRotated(token);
      if (this.#unsaved === token) this.#unsaved = null;
    } catch (err) {
      throw new CredentialsError(
        'SECRET_UNAVAILABLE',
        `the token endpoint rotated the refresh token but saving the new one failed; it is kept in memory and saving is retried on the next get(). If this process ends first, the stored refresh token may already be revoked: run the consent flow again`,
        { cause: safeCause(err, [...this.#known]) },
      );
    }
  }

  async #request(): Promise<CachedToken> {
    // Stamped before sending, so the request's own latency already counts against the lifetime.
    const sentAt = this.#clock.now();
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let status: number;
    let body: string | null;
    let location: string | null;
    try {
      const response = await this.#fetch(this.#secret.tokenEndpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: this.#form(),
        // Following a redirect would resend the client secret to wherever it points, perhaps in clear.
        redirect: 'manual',
        signal,
      });
      status = response.status;
      location = response.headers.get('location');
      body = await readBounded(response, MAX_TOKEN_RESPONSE_OCTETS);
    } catch (err) {
      const timedOut = signal.aborted || (err instanceof Error && err.name === 'TimeoutError');
      throw new CredentialsError(
        'TOKEN_REQUEST_FAILED',
        timedOut
          ? `token request to ${this.#endpointLabel} got no complete answer within ${this.#timeoutMs} ms; the next run retries`
          : `token request to ${this.#endpointLabel} failed before an answer (network, DNS or TLS); the next run retries`,
        { cause: safeCause(err, [...this.#known]) },
      );
    }
    if (status >= 200 && status < 300) return this.#accept(status, body, sentAt);
    throw this.#failure(status, body, location);
  }

  #form(): URLSearchParams {
    const s = this.#secret;
    const form = new URLSearchParams({ grant_type: s.grant, client_id: s.clientId });
    if (s.clientSecret !== undefined) form.set('client_secret', s.clientSecret);
    if (s.grant === 'refresh_token' && this.#refreshToken !== undefined) {
      form.set('refresh_token', this.#refreshToken);
    }
    if (s.scope !== undefined) form.set('scope', s.scope);
    return form;
  }

  #accept(status: number, body: string | null, sentAt: number): CachedToken {
    // The body is never quoted: on this path it may hold a token.
    const malformed = (what: string) =>
      new CredentialsError(
        'TOKEN_REQUEST_FAILED',
        `token endpoint ${this.#endpointLabel} answered HTTP ${status} with ${what}; it is not speaking OAuth 2: check tokenEndpoint`,
        // A 200 with nonsense is nearly always a wrong URL (a login page, a proxy) rather than a blip.
        { temporary: false },
      );
    if (body === null) throw malformed(`a body over ${MAX_TOKEN_RESPONSE_OCTETS} octets`);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw malformed('a body that is not JSON');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw malformed('JSON that is not an object');
    }
    const fields = json as Record<string, unknown>;
    const accessToken = fields.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw malformed('no access_token');
    }
    this.#known.add(accessToken);
    const tokenType = fields.token_type;
    if (
      tokenType !== undefined &&
      (typeof tokenType !== 'string' || !/^bearer$/i.test(tokenType))
    ) {
      throw malformed('a token_type other than Bearer (XOAUTH2 sends bearer tokens)');
    }
    const lifetimeMs = expiresInMs(fields.expires_in);
    if (lifetimeMs === 'invalid') throw malformed('an expires_in that is not a positive number');
    const rotated = fields.refresh_token;
    if (
      this.#secret.grant === 'refresh_token' &&
      typeof rotated === 'string' &&
      rotated !== '' &&
      rotated !== this.#refreshToken
    ) {
      this.#known.add(rotated);
      this.#refreshToken = rotated;
      this.#unsaved = rotated;
    }
    return { accessToken, refreshAt: lifetimeMs === null ? null : sentAt + usableFor(lifetimeMs) };
  }

  #failure(status: number, body: string | null, location: string | null): CredentialsError {
    const where = `token request to ${this.#endpointLabel}`;
    if (status >= 300 && status < 400) {
      const target = location === null ? 'elsewhere' : redirectTarget(location, this.#secret);
      return new CredentialsError(
        'TOKEN_REQUEST_FAILED',
        `${where} was redirected (HTTP ${status}) to ${target}; redirects are not followed because they would resend the client secret: set tokenEndpoint to the final URL`,
        { temporary: false },
      );
    }
    const { error, description } = oauthError(body, [...this.#known]);
    const detail = `HTTP ${status}${error === null ? '' : ` ${error}`}${description === null ? '' : ` (${description})`}`;
    if (error !== null && RETRYABLE_ERRORS.has(error)) {
      return new CredentialsError(
        'TOKEN_REQUEST_FAILED',
        `${where} failed: ${detail}; the next run retries`,
      );
    }
    const hint = error === null ? undefined : REJECTION_HINTS[error];
    if (status >= 400 && status < 500 && hint !== undefined) {
      return new CredentialsError(
        'TOKEN_REJECTED',
        `${where} was refused: ${detail}; ${hint(this.#secret)}`,
      );
    }
    if (status >= 500 || RETRYABLE_STATUSES.has(status)) {
      return new CredentialsError(
        'TOKEN_REQUEST_FAILED',
        `${where} failed: ${detail}; the next run retries`,
      );
    }
    return new CredentialsError(
      'TOKEN_REQUEST_FAILED',
      `${where} failed: ${detail}; check tokenEndpoint (a 404 usually means a wrong tenant or path)`,
      { temporary: false },
    );
  }
}

/**
 * How long a token with this lifetime is handed out. A lifetime shorter than twice the margin would
 * leave little or nothing, so such a token is kept for half its life instead.
 */
function usableFor(lifetimeMs: number): number {
  return lifetimeMs > 2 * EXPIRY_SAFETY_MARGIN_MS
    ? lifetimeMs - EXPIRY_SAFETY_MARGIN_MS
    : lifetimeMs / 2;
}

/** RFC 6749 makes expires_in a number; older Azure AD endpoints send it as a string. Absent: null. */
function expiresInMs(value: unknown): number | null | 'invalid' {
  if (value === undefined) return null;
  const seconds =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 'invalid';
}

function oauthError(
  body: string | null,
  secrets: string[],
): { error: string | null; description: string | null } {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch {
    return { error: null, description: null };
  }
  if (typeof json !== 'object' || json === null) return { error: null, description: null };
  const fields = json as Record<string, unknown>;
  const error =
    typeof fields.error === 'string' && OAUTH_ERROR_CODE.test(fields.error)
      ? scrub(fields.error, secrets)
      : null;
  const description =
    typeof fields.error_description === 'string' && fields.error_description !== ''
      ? bounded(scrub(fields.error_description, secrets), MAX_ERROR_DESCRIPTION)
      : null;
  return { error, description };
}

/** Origin and path of a redirect target: its query could carry anything. */
function redirectTarget(location: string, secret: OAuth2Secret): string {
  try {
    const url = new URL(location, secret.tokenEndpoint);
    return bounded(`${url.origin}${url.pathname}`, MAX_ERROR_DESCRIPTION);
  } catch {
    return 'an unparseable location';
  }
}

/** The body as text, or null when it exceeds `max` octets (reading stops there). */
async function readBounded(response: Response, max: number): Promise<string | null> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
