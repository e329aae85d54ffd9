/**
 * The local server's guard, in-process: DNS rebinding (a foreign Host), cross-site requests (a
 * foreign Origin), and who may read the API (a session from a one-time link, or the bearer token).
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createLocalServerApp } from '../../functions/viewer/local-server-app.js';
import { createLocalSessions, SESSION_COOKIE } from '../../functions/viewer/local-sessions.js';

const PORT = 8025;
const TOKEN = 'b'.repeat(43);
const HOST = `127.0.0.1:${PORT}`;

function server() {
  const api = new Hono().get('/mailboxes', (c) => c.json({ items: [] }));
  const sessions = createLocalSessions();
  const app = createLocalServerApp({ api, sessions, bearerToken: TOKEN, port: () => PORT });
  const request = (path: string, init: RequestInit & { host?: string } = {}) =>
    app.request(`http://${init.host ?? HOST}${path}`, {
      ...init,
      headers: { host: init.host ?? HOST, ...(init.headers as Record<string, string>) },
    });
  return { app, sessions, request };
}

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

async function signIn(s: ReturnType<typeof server>): Promise<string> {
  const response = await s.request('/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: s.sessions.issueLoginCode() }),
  });
  expect(response.status).toBe(204);
  const cookie = response.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  return cookie.split(';')[0] ?? '';
}

describe('DNS rebinding: a page whose name now points at 127.0.0.1 sends its own Host', () => {
  it.each(['evil.example:8025', 'evil.example', '127.0.0.1:9999', 'localhost.evil.example:8025'])(
    'Host %s is refused before anything else, even with the token',
    async (host) => {
      const response = await server().request('/mailboxes', {
        host,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.status).toBe(403);
      expect(await codeOf(response)).toBe('FOREIGN_HOST');
    },
  );

  it.each([HOST, `localhost:${PORT}`, `[::1]:${PORT}`])('Host %s is this server', async (host) => {
    const response = await server().request('/', { host });
    expect(response.status).toBe(200);
  });
});

describe('cross-site requests: another page making the browser send ours', () => {
  it('a foreign Origin is refused, with a session cookie or without', async () => {
    const s = server();
    const cookie = await signIn(s);
    for (const origin of ['https://evil.example', 'http://127.0.0.1:9999', 'null']) {
      const response = await s.request('/mailboxes', { headers: { cookie, origin } });
      expect(response.status).toBe(403);
      expect(await codeOf(response)).toBe('FOREIGN_ORIGIN');
    }
  });

  it('a cross-site fetch (Sec-Fetch-Site) is refused, and so is a foreign sign-in', async () => {
    const s = server();
    const response = await s.request('/session', {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      body: JSON.stringify({ code: s.sessions.issueLoginCode() }),
    });
    expect(response.status).toBe(403);
  });

  it('the page itself may call the API: same origin', async () => {
    const s = server();
    const cookie = await signIn(s);
    const response = await s.request('/mailboxes', {
      headers: { cookie, origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin' },
    });
    expect(response.status).toBe(200);
  });
});

describe('who may read the archive', () => {
  it('nobody without a session or the token; the page shell and its assets are public', async () => {
    const s = server();
    const refused = await s.request('/mailboxes');
    expect(refused.status).toBe(401);
    expect(await codeOf(refused)).toBe('UNAUTHORIZED');
    for (const path of ['/', '/assets/viewer.js', '/assets/viewer.css']) {
      expect((await s.request(path)).status).toBe(200);
    }
  });

  it('the shell runs only its own script: a strict Content-Security-Policy', async () => {
    const csp = (await server().request('/')).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('a session from a one-time link reads the API; a forged cookie does not', async () => {
    const s = server();
    const cookie = await signIn(s);
    expect((await s.request('/mailboxes', { headers: { cookie } })).status).toBe(200);
    const forged = `${SESSION_COOKIE}=${'A'.repeat(43)}`;
    expect((await s.request('/mailboxes', { headers: { cookie: forged } })).status).toBe(401);
  });

  it('the bearer token still works for curl and scripts; a wrong one is named', async () => {
    const s = server();
    const ok = await s.request('/mailboxes', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    const wrong = await s.request('/mailboxes', {
      headers: { authorization: `Bearer ${'c'.repeat(43)}` },
    });
    expect(wrong.status).toBe(401);
    expect(await codeOf(wrong)).toBe('INVALID_TOKEN');
  });

  it('a used or malformed sign-in code answers what to do, and sets no cookie', async () => {
    const s = server();
    const code = s.sessions.issueLoginCode();
    const exchange = (body: string) =>
      s.request('/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    expect((await exchange(JSON.stringify({ code }))).status).toBe(204);
    for (const body of [JSON.stringify({ code }), '{"code": 7}', 'not json', '{}']) {
      const response = await exchange(body);
      expect(response.status).toBe(401);
      expect(response.headers.get('set-cookie')).toBeNull();
      const payload = (await response.json()) as { error: { code: string; message: string } };
      expect(payload.error.code).toBe('INVALID_LOGIN_CODE');
      expect(payload.error.message).toContain('start it again');
    }
  });
});
