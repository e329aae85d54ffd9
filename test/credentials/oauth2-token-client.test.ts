import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CredentialsError,
  type CredentialsErrorCode,
  type OAuth2Secret,
  parseMailboxSecret,
  SafeCause,
} from '../../functions/core/credentials/credentials-provider.js';
import {
  EXPIRY_SAFETY_MARGIN_MS,
  OAuth2TokenProvider,
  type OAuth2TokenProviderOptions,
} from '../../functions/core/credentials/oauth2-token-client.js';
import {
  fromEnv,
  fromFile,
  fromSecretsManager,
} from '../../functions/core/credentials/secret-sources.js';

// Characters that form-encoding changes, so both spellings of each secret are checked for.
const CLIENT_SECRET = 'cs~VALUE/with+and=and space';
const REFRESH_TOKEN = 'rt.REFRESH/VALUE+1==';
const ROTATED_TOKEN = 'rt.ROTATED/VALUE+2==';
const ACCESS_TOKEN = 'at.ACCESS.VALUE';
const PASSWORD = 'pw{PASSWORD"VALUE';
/** Short enough to fit whole in the ~10-character excerpt V8's JSON.parse errors quote. */
const SHORT_PASSWORD = 'hunter2';
const SECRET_VALUES = [
  CLIENT_SECRET,
  REFRESH_TOKEN,
  ROTATED_TOKEN,
  ACCESS_TOKEN,
  PASSWORD,
  SHORT_PASSWORD,
];

interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}

type Handler = (request: SeenRequest, res: ServerResponse) => void;

interface TokenEndpoint {
  url: string;
  requests: SeenRequest[];
  /** Resolves when the endpoint has received its nth request (1-based). */
  received(n: number): Promise<void>;
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    // A handler that never answers leaves its socket open; close() alone would wait for it forever.
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }
});

/** A real token endpoint on 127.0.0.1 that answers each request with `handler`. */
async function tokenEndpoint(handler: Handler): Promise<TokenEndpoint> {
  const requests: SeenRequest[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      };
      requests.push(seen);
      for (const waiter of waiters.filter((w) => w.n <= requests.length)) waiter.resolve();
      handler(seen, res);
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tenant/oauth2/v2.0/token`,
    requests,
    received: (n) =>
      requests.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
}

/** Answers every request with a fresh numbered token (at-1, at-2, ...) valid for `expiresIn` s (null: omitted). */
function issuing(expiresIn: number | string | null = 3600, extra: object = {}): Handler {
  let issued = 0;
  return (_req, res) => {
    issued += 1;
    reply(res, 200, {
      access_token: `at-${issued}`,
      token_type: 'Bearer',
      ...(expiresIn === null ? {} : { expires_in: expiresIn }),
      ...extra,
    });
  };
}

function manualClock(start = 1_000_000): { now(): number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

function refreshSecret(url: string, over: Partial<OAuth2Secret> = {}): OAuth2Secret {
  return {
    kind: 'oauth2',
    username: 'alice@example.com',
    tokenEndpoint: url,
    clientId: 'client-id-1',
    clientSecret: CLIENT_SECRET,
    refreshToken: REFRESH_TOKEN,
    scope: 'https://outlook.office.com/POP.AccessAsUser.All offline_access',
    grant: 'refresh_token',
    ...over,
  };
}

function credentialsSecret(url: string): OAuth2Secret {
  return {
    kind: 'oauth2',
    username: 'archive@contoso.example',
    tokenEndpoint: url,
    clientId: 'client-id-2',
    clientSecret: CLIENT_SECRET,
    scope: 'https://outlook.office365.com/.default',
    grant: 'client_credentials',
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, got success');
}

async function expectCredentialsError(
  promise: Promise<unknown>,
  code: CredentialsErrorCode,
): Promise<CredentialsError> {
  const err = await rejection(promise);
  if (!(err instanceof CredentialsError)) throw new Error(`expected CredentialsError, got ${err}`);
  expect(err.code, err.message).toBe(code);
  return err;
}

describe('OAuth2TokenProvider requests', () => {
  it('refresh_token grant posts a form with the refresh token, client and scope', async () => {
    const endpoint = await tokenEndpoint(issuing());
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url));

    expect(await provider.get()).toEqual({
      user: 'alice@example.com',
      accessToken: 'at-1',
      method: 'xoauth2',
    });
    const [request] = endpoint.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/tenant/oauth2/v2.0/token');
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request?.form ?? [])).toEqual({
      grant_type: 'refresh_token',
      client_id: 'client-id-1',
      client_secret: CLIENT_SECRET,
      refresh_token: REFRESH_TOKEN,
      scope: 'https://outlook.office.com/POP.AccessAsUser.All offline_access',
    });
  });

  it('client_credentials grant posts the client secret and scope, and no refresh token', async () => {
    const endpoint = await tokenEndpoint(issuing());
    const provider = new OAuth2TokenProvider(credentialsSecret(endpoint.url));

    expect(await provider.get()).toEqual({
      user: 'archive@contoso.example',
      accessToken: 'at-1',
      method: 'xoauth2',
    });
    expect(Object.fromEntries(endpoint.requests[0]?.form ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-id-2',
      client_secret: CLIENT_SECRET,
      scope: 'https://outlook.office365.com/.default',
    });
  });

  it('a public client sends no client_secret', async () => {
    const endpoint = await tokenEndpoint(issuing());
    const secret = refreshSecret(endpoint.url);
    delete secret.clientSecret;
    await new OAuth2TokenProvider(secret).get();
    expect(endpoint.requests[0]?.form.has('client_secret')).toBe(false);
  });

  it('refuses a non-positive request timeout at construction', () => {
    expect(
      () =>
        new OAuth2TokenProvider(refreshSecret('https://login.example/token'), {
          requestTimeoutMs: 0,
        }),
    ).toThrow(RangeError);
  });
});

describe('OAuth2TokenProvider caching', () => {
  it('hands out the cached token until expires_in minus the safety margin, then refreshes', async () => {
    const endpoint = await tokenEndpoint(issuing(3600));
    const clock = manualClock();
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), { clock });
    const usable = 3600_000 - EXPIRY_SAFETY_MARGIN_MS;

    expect((await provider.get()).accessToken).toBe('at-1');
    clock.advance(usable - 1);
    expect((await provider.get()).accessToken).toBe('at-1');
    expect(endpoint.requests).toHaveLength(1);

    clock.advance(1);
    expect((await provider.get()).accessToken).toBe('at-2');
    expect(endpoint.requests).toHaveLength(2);
  });

  it('a lifetime shorter than twice the margin is used for half of it', async () => {
    const endpoint = await tokenEndpoint(issuing(60));
    const clock = manualClock();
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), { clock });

    await provider.get();
    clock.advance(29_999);
    expect((await provider.get()).accessToken).toBe('at-1');
    clock.advance(1);
    expect((await provider.get()).accessToken).toBe('at-2');
  });

  it('accepts expires_in as a numeric string (older Azure AD endpoints)', async () => {
    const endpoint = await tokenEndpoint(issuing('3599'));
    const clock = manualClock();
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), { clock });
    await provider.get();
    clock.advance(60_000);
    await provider.get();
    expect(endpoint.requests).toHaveLength(1);
  });

  it('a token without expires_in is never cached', async () => {
    const endpoint = await tokenEndpoint(issuing(null));
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), { clock: manualClock() });
    expect((await provider.get()).accessToken).toBe('at-1');
    expect((await provider.get()).accessToken).toBe('at-2');
  });

  it('concurrent get() calls share one request', async () => {
    let answer: (() => void) | undefined;
    const endpoint = await tokenEndpoint((_req, res) => {
      answer = () =>
        reply(res, 200, { access_token: 'shared', token_type: 'bearer', expires_in: 3600 });
    });
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), { clock: manualClock() });

    const pending = Array.from({ length: 8 }, () => provider.get());
    await endpoint.received(1);
    answer?.();
    const results = await Promise.all(pending);

    expect(results.map((c) => c.accessToken)).toEqual(Array(8).fill('shared'));
    expect(endpoint.requests).toHaveLength(1);
  });

  it('concurrent get() calls share one failure, and the failure is not cached', async () => {
    let calls = 0;
    const endpoint = await tokenEndpoint((_req, res) => {
      calls += 1;
      if (calls === 1) reply(res, 503, { error: 'temporarily_unavailable' });
      else reply(res, 200, { access_token: 'after-outage', expires_in: 3600 });
    });
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), { clock: manualClock() });

    const errors = await Promise.all([1, 2, 3].map(() => rejection(provider.get())));
    expect(new Set(errors).size).toBe(1);
    expect(errors[0]).toMatchObject({ code: 'TOKEN_REQUEST_FAILED', temporary: true });
    expect(endpoint.requests).toHaveLength(1);

    expect(await provider.get()).toMatchObject({ accessToken: 'after-outage' });
    expect(endpoint.requests).toHaveLength(2);
  });

  it('invalidate() makes the next get() fetch a new token though the cached one has not expired', async () => {
    const endpoint = await tokenEndpoint(issuing(3600));
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), { clock: manualClock() });

    expect((await provider.get()).accessToken).toBe('at-1');
    provider.invalidate();
    expect((await provider.get()).accessToken).toBe('at-2');
    expect((await provider.get()).accessToken).toBe('at-2');
    expect(endpoint.requests).toHaveLength(2);
  });
});

describe('OAuth2TokenProvider refresh token rotation', () => {
  it('reports a rotated refresh token once and uses it for the next refresh', async () => {
    const endpoint = await tokenEndpoint(issuing(3600, { refresh_token: ROTATED_TOKEN }));
    const rotated: string[] = [];
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), {
      clock: manualClock(),
      onRefreshTokenRotated: async (token) => {
        rotated.push(token);
      },
    });

    await provider.get();
    expect(rotated).toEqual([ROTATED_TOKEN]);
    expect(provider.refreshToken).toBe(ROTATED_TOKEN);

    provider.invalidate();
    await provider.get();
    expect(endpoint.requests[1]?.form.get('refresh_token')).toBe(ROTATED_TOKEN);
    // The endpoint sent the same token again: nothing new to persist.
    expect(rotated).toEqual([ROTATED_TOKEN]);
  });

  it('keeps a rotated token whose saving failed and retries saving before handing out a token', async () => {
    const endpoint = await tokenEndpoint(issuing(3600, { refresh_token: ROTATED_TOKEN }));
    let attempts = 0;
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), {
      clock: manualClock(),
      onRefreshTokenRotated: async (token) => {
        attempts += 1;
        if (attempts === 1) throw new Error(`PutSecretValue failed for value ${token}`);
      },
    });

    const err = await expectCredentialsError(provider.get(), 'SECRET_UNAVAILABLE');
    expect(err.temporary).toBe(true);
    expect(err.cause).toBeInstanceOf(SafeCause);
    expect(String(err.cause)).toContain('PutSecretValue failed');

    expect((await provider.get()).accessToken).toBe('at-1');
    expect(attempts).toBe(2);
    expect(endpoint.requests).toHaveLength(1);
  });

  it('ignores a refresh_token in a client_credentials response (RFC 6749 s.4.4.3)', async () => {
    const endpoint = await tokenEndpoint(issuing(3600, { refresh_token: ROTATED_TOKEN }));
    const rotated: string[] = [];
    const provider = new OAuth2TokenProvider(credentialsSecret(endpoint.url), {
      onRefreshTokenRotated: async (token) => {
        rotated.push(token);
      },
    });
    await provider.get();
    expect(rotated).toEqual([]);
  });
});

describe('OAuth2TokenProvider failures', () => {
  it('invalid_grant is TOKEN_REJECTED, not temporary, with the fix and the endpoint description', async () => {
    const endpoint = await tokenEndpoint((_req, res) =>
      reply(res, 400, {
        error: 'invalid_grant',
        error_description: 'AADSTS70008: The provided refresh token has expired due to inactivity.',
      }),
    );
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(endpoint.url)).get(),
      'TOKEN_REJECTED',
    );
    expect(err.temporary).toBe(false);
    expect(err.message).toContain('HTTP 400 invalid_grant');
    expect(err.message).toContain('AADSTS70008');
    expect(err.message).toContain('run the consent flow again');
  });

  it('invalid_client is TOKEN_REJECTED and points at the client id and secret', async () => {
    const endpoint = await tokenEndpoint((_req, res) =>
      reply(res, 401, { error: 'invalid_client' }),
    );
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(credentialsSecret(endpoint.url)).get(),
      'TOKEN_REJECTED',
    );
    expect(err.message).toContain('check clientId and clientSecret');
  });

  it('HTTP 500 is TOKEN_REQUEST_FAILED and temporary', async () => {
    const endpoint = await tokenEndpoint((_req, res) => reply(res, 500, 'upstream exploded'));
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(endpoint.url)).get(),
      'TOKEN_REQUEST_FAILED',
    );
    expect(err.temporary).toBe(true);
    expect(err.message).toContain('HTTP 500');
  });

  it('HTTP 429 is TOKEN_REQUEST_FAILED and temporary', async () => {
    const endpoint = await tokenEndpoint((_req, res) => reply(res, 429, {}));
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(endpoint.url)).get(),
      'TOKEN_REQUEST_FAILED',
    );
    expect(err.temporary).toBe(true);
  });

  it('HTTP 404 is TOKEN_REQUEST_FAILED but not temporary: the URL is wrong', async () => {
    const endpoint = await tokenEndpoint((_req, res) => reply(res, 404, 'not found'));
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(endpoint.url)).get(),
      'TOKEN_REQUEST_FAILED',
    );
    expect(err.temporary).toBe(false);
    expect(err.message).toContain('check tokenEndpoint');
  });

  it('a redirect is not followed, so the client secret is sent once, to the configured URL', async () => {
    const endpoint = await tokenEndpoint((_req, res) => {
      res.writeHead(307, { location: 'http://elsewhere.example/token?leak=1' }).end();
    });
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(endpoint.url)).get(),
      'TOKEN_REQUEST_FAILED',
    );
    expect(err.temporary).toBe(false);
    expect(err.message).toContain('http://elsewhere.example/token');
    expect(err.message).not.toContain('leak=1');
    expect(endpoint.requests).toHaveLength(1);
  });

  it('an endpoint that never answers fails with TOKEN_REQUEST_FAILED within the timeout', async () => {
    const timeoutMs = 150;
    const endpoint = await tokenEndpoint(() => {});
    const provider = new OAuth2TokenProvider(refreshSecret(endpoint.url), {
      requestTimeoutMs: timeoutMs,
    });

    const started = performance.now();
    const err = await expectCredentialsError(provider.get(), 'TOKEN_REQUEST_FAILED');
    const elapsed = performance.now() - started;

    expect(err.temporary).toBe(true);
    expect(err.message).toContain(`within ${timeoutMs} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 5);
    // Generous for a loaded CI machine; the point is that it does not hang until some default.
    expect(elapsed).toBeLessThan(timeoutMs + 2_000);
  });

  it('a body that starts and never ends also fails within the timeout', async () => {
    const endpoint = await tokenEndpoint((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token": "at-partial", ');
    });
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(endpoint.url), { requestTimeoutMs: 150 }).get(),
      'TOKEN_REQUEST_FAILED',
    );
    expect(err.message).toContain('within 150 ms');
  });

  it('a refused connection is TOKEN_REQUEST_FAILED, temporary, with a scrubbed cause', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    probe.close();
    await once(probe, 'close');

    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(`http://127.0.0.1:${port}/token`)).get(),
      'TOKEN_REQUEST_FAILED',
    );
    expect(err.temporary).toBe(true);
    expect(err.cause).toBeInstanceOf(SafeCause);
    expect(String(err.cause)).toContain('ECONNREFUSED');
  });

  it.each([
    ['a body that is not JSON', '<html>Sign in</html>', 'not JSON'],
    ['truncated JSON', '{"access_token": "at-1", "expires_', 'not JSON'],
    ['a JSON array', '[]', 'not an object'],
    ['no access_token', { token_type: 'Bearer', expires_in: 3600 }, 'no access_token'],
    ['an empty access_token', { access_token: '', expires_in: 3600 }, 'no access_token'],
    ['a MAC token', { access_token: 'x', token_type: 'mac', expires_in: 3600 }, 'Bearer'],
    ['a negative expires_in', { access_token: 'x', expires_in: -5 }, 'expires_in'],
    ['a non-numeric expires_in', { access_token: 'x', expires_in: 'soon' }, 'expires_in'],
    ['an oversize body', { access_token: 'x'.repeat(300 * 1024) }, 'octets'],
  ])('a 200 with %s is TOKEN_REQUEST_FAILED, not temporary', async (_name, body, fragment) => {
    const endpoint = await tokenEndpoint((_req, res) => reply(res, 200, body));
    const err = await expectCredentialsError(
      new OAuth2TokenProvider(refreshSecret(endpoint.url)).get(),
      'TOKEN_REQUEST_FAILED',
    );
    expect(err.temporary).toBe(false);
    expect(err.message).toContain(fragment);
  });
});

/** Every rendering of an error a log line or alarm could end up showing, down the cause chain. */
function renderings(err: unknown): string[] {
  const out: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth += 1) {
    out.push(String(current), JSON.stringify(current) ?? '', inspect(current, { depth: 10 }));
    if (current instanceof Error) out.push(current.message, current.stack ?? '');
    current = current instanceof Error ? current.cause : undefined;
  }
  return out;
}

function formEncoded(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

describe('no secret value in any error', () => {
  async function tokenFailure(handler: Handler, options: OAuth2TokenProviderOptions = {}) {
    const endpoint = await tokenEndpoint(handler);
    return rejection(new OAuth2TokenProvider(refreshSecret(endpoint.url), options).get());
  }

  async function sourceFailure(text: string): Promise<unknown[]> {
    const dir = await mkdtemp(join(tmpdir(), 'popvault-leak-'));
    try {
      const path = join(dir, 'secret.json');
      await writeFile(path, text);
      await chmod(path, 0o600);
      return [
        await rejection(fromEnv('SECRET', { env: { SECRET: text } }).load()),
        await rejection(fromFile(path).load()),
        await rejection(fromSecretsManager({ getSecretString: async () => text }, 'box').load()),
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  function parseFailure(json: unknown): unknown {
    try {
      parseMailboxSecret(json);
    } catch (err) {
      return err;
    }
    throw new Error('expected parseMailboxSecret to throw');
  }

  it('holds for token endpoint failures, rotation failures and secret parse failures', async () => {
    const echo = `client_secret=${formEncoded(CLIENT_SECRET)}&refresh_token=${encodeURIComponent(REFRESH_TOKEN)} ${CLIENT_SECRET} ${REFRESH_TOKEN}`;
    const errors: unknown[] = [
      // A hostile or chatty endpoint echoing the request in its error description.
      await tokenFailure((_req, res) =>
        reply(res, 400, { error: 'invalid_grant', error_description: echo }),
      ),
      await tokenFailure((_req, res) =>
        reply(res, 503, { error: 'server_error', error_description: echo }),
      ),
      // Success-path failures: the body holds a valid access token and must not be quoted.
      await tokenFailure((_req, res) => reply(res, 200, `{"access_token": "${ACCESS_TOKEN}", `)),
      await tokenFailure((_req, res) =>
        reply(res, 200, { access_token: ACCESS_TOKEN, token_type: 'mac', expires_in: 3600 }),
      ),
      await tokenFailure((_req, res) =>
        reply(res, 200, { access_token: ACCESS_TOKEN, expires_in: `${ACCESS_TOKEN}` }),
      ),
      // A persistence callback whose error quotes the token it failed to store.
      await tokenFailure(
        (_req, res) =>
          reply(res, 200, {
            access_token: ACCESS_TOKEN,
            expires_in: 3600,
            refresh_token: ROTATED_TOKEN,
          }),
        {
          onRefreshTokenRotated: async (token) => {
            throw new Error(
              `could not store ${token} (old ${REFRESH_TOKEN}, app ${CLIENT_SECRET})`,
              {
                cause: new Error(`inner ${token} ${ACCESS_TOKEN}`),
              },
            );
          },
        },
      ),
      // JSON.parse's own message would quote these ("Unexpected token 'h', "hunter2" is not valid JSON").
      ...(await sourceFailure(SHORT_PASSWORD)),
      ...(await sourceFailure(`{"kind":"password","username":"a","password":${SHORT_PASSWORD}}`)),
      ...(await sourceFailure(`{"kind": "password", "username": "a", "password": "${PASSWORD}`)),
      ...(await sourceFailure(`{"kind":"oauth2","clientSecret":"${CLIENT_SECRET}",}`)),
      // Validation of well-formed JSON where a secret sits in the wrong place or has the wrong type.
      parseFailure({ kind: PASSWORD, username: 'a', password: PASSWORD }),
      parseFailure({ kind: 'password', username: 'a', password: PASSWORD, method: PASSWORD }),
      parseFailure({ kind: 'password', username: 'a', password: PASSWORD, extra: PASSWORD }),
      parseFailure({ kind: 'password', username: 'a', password: `${PASSWORD}\n` }),
      parseFailure({ kind: 'password', username: PASSWORD.repeat(2), password: [PASSWORD] }),
      parseFailure({
        kind: 'oauth2',
        username: 'a',
        tokenEndpoint: `https://client:${CLIENT_SECRET}@login.example/token`,
        clientId: 'c',
        clientSecret: CLIENT_SECRET,
        grant: 'client_credentials',
      }),
      parseFailure({
        kind: 'oauth2',
        username: 'a',
        tokenEndpoint: 'https://login.example/token',
        clientId: 'c',
        clientSecret: CLIENT_SECRET,
        refreshToken: REFRESH_TOKEN,
        grant: 'client_credentials',
      }),
      parseFailure({
        kind: 'oauth2',
        username: 'a',
        tokenEndpoint: 'https://login.example/token',
        clientId: 'c',
        refreshToken: REFRESH_TOKEN,
        grant: REFRESH_TOKEN,
      }),
    ];

    for (const err of errors) {
      expect(err).toBeInstanceOf(CredentialsError);
      for (const text of renderings(err)) {
        for (const secret of SECRET_VALUES) {
          for (const form of [secret, encodeURIComponent(secret), formEncoded(secret)]) {
            expect(text, `${(err as Error).message}`).not.toContain(form);
          }
        }
      }
    }
  });

  it('JSON.stringify of an error keeps its code and message for structured logs', async () => {
    const endpoint = await tokenEndpoint((_req, res) =>
      reply(res, 400, { error: 'invalid_grant' }),
    );
    const err = await rejection(new OAuth2TokenProvider(refreshSecret(endpoint.url)).get());
    expect(JSON.parse(JSON.stringify(err))).toMatchObject({
      name: 'CredentialsError',
      code: 'TOKEN_REJECTED',
      temporary: false,
      message: expect.stringContaining('invalid_grant'),
    });
  });
});
