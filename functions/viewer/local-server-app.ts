/**
 * What `popvault serve` listens with: the viewer's page and the query API on one loopback origin,
 * behind one guard (local-guard.ts). The API app is given without its own authentication; the guard
 * accepts the viewer's session cookie or the API's bearer token in front of every route.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { setCookie } from 'hono/cookie';
import { localGuard, refusal } from './local-guard.js';
import { type LocalSessions, SESSION_COOKIE, SESSION_TTL_MS } from './local-sessions.js';
import { SHELL_CSP, SHELL_HTML, VIEWER_CSS } from './viewer-assets.js';
import { VIEWER_JS } from './viewer-script.js';

/** A login code in JSON is under 100 bytes; nothing larger is read. */
const SESSION_BODY_LIMIT = 1024;

export interface LocalServerDeps {
  api: { fetch(request: Request): Response | Promise<Response> };
  sessions: LocalSessions;
  bearerToken: string;
  port: () => number;
}

const PUBLIC = new Set([
  'GET /',
  'HEAD /',
  'GET /assets/viewer.js',
  'GET /assets/viewer.css',
  'POST /session',
]);

function asset(body: string, type: string, csp?: string): Response {
  return new Response(body, {
    headers: {
      'Content-Type': type,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...(csp ? { 'Content-Security-Policy': csp, 'X-Frame-Options': 'DENY' } : {}),
    },
  });
}

export function createLocalServerApp(deps: LocalServerDeps): Hono {
  const app = new Hono();
  app.use(
    '*',
    localGuard({
      sessions: deps.sessions,
      bearerToken: deps.bearerToken,
      port: deps.port,
      isPublic: (method, path) => PUBLIC.has(`${method} ${path}`),
    }),
  );
  app.get('/', () => asset(SHELL_HTML, 'text/html; charset=utf-8', SHELL_CSP));
  app.get('/assets/viewer.js', () => asset(VIEWER_JS, 'text/javascript; charset=utf-8'));
  app.get('/assets/viewer.css', () => asset(VIEWER_CSS, 'text/css; charset=utf-8'));
  app.post('/session', bodyLimit({ maxSize: SESSION_BODY_LIMIT }), async (c) => {
    const body = (await c.req.json().catch(() => null)) as { code?: unknown } | null;
    const code = typeof body?.code === 'string' ? body.code : '';
    const session = deps.sessions.exchange(code);
    if (session === null) {
      return refusal(
        c,
        401,
        'INVALID_LOGIN_CODE',
        'this sign-in link was already used or has expired; stop popvault serve and start it again for a new one',
      );
    }
    // HttpOnly: no script (nor mail rendered in the page) can read it. Strict: no other site's
    // page can make the browser send it. No Secure flag: the server is plain HTTP on loopback.
    setCookie(c, SESSION_COOKIE, session, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      maxAge: SESSION_TTL_MS / 1000,
    });
    return c.body(null, 204, { 'Cache-Control': 'no-store' });
  });
  app.all('*', (c) => deps.api.fetch(c.req.raw));
  return app;
}
