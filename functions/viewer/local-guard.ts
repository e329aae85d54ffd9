/**
 * What every request to the local server passes before anything else: it must be addressed to this
 * server by its loopback name (a page on another site that rebinds its DNS name to 127.0.0.1 sends
 * its own name as Host), come from no other origin (a form or script on another site), and carry a
 * session cookie or the bearer token, except for the few paths that sign a person in.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { bearerVerifier } from '../query-api/bearer-auth.js';
import { type LocalSessions, SESSION_COOKIE } from './local-sessions.js';

/** The codes of the local server's own refusals; the body has the API's error shape. */
export type GuardErrorCode =
  | 'FOREIGN_HOST'
  | 'FOREIGN_ORIGIN'
  | 'UNAUTHORIZED'
  | 'INVALID_TOKEN'
  | 'INVALID_LOGIN_CODE';

export function refusal(
  c: Context,
  status: 401 | 403,
  code: GuardErrorCode,
  message: string,
): Response {
  return c.json({ error: { code, message } }, status, {
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...(status === 401 ? { 'WWW-Authenticate': 'Bearer realm="popvault"' } : {}),
  });
}

export interface GuardOptions {
  sessions: LocalSessions;
  bearerToken: string;
  /** The port the server listens on (known only once it listens, for port 0). */
  port: () => number;
  /** Paths a person reaches before signing in: the page shell, its assets, the code exchange. */
  isPublic: (method: string, path: string) => boolean;
}

export function localGuard(options: GuardOptions): MiddlewareHandler {
  const verifyBearer = bearerVerifier(options.bearerToken);
  return async (c, next) => {
    const port = options.port();
    const host = c.req.header('host') ?? '';
    const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
    if (!hosts.includes(host.toLowerCase())) {
      return refusal(
        c,
        403,
        'FOREIGN_HOST',
        `this server answers only to http://127.0.0.1:${port}; open that address instead`,
      );
    }
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site');
    if ((origin !== undefined && origin !== `http://${host}`) || site === 'cross-site') {
      return refusal(c, 403, 'FOREIGN_ORIGIN', 'requests from other sites are refused');
    }
    if (options.isPublic(c.req.method, c.req.path)) return next();
    const session = getCookie(c, SESSION_COOKIE);
    if (session !== undefined && options.sessions.isValid(session)) return next();
    const bearer = verifyBearer(c.req.header('authorization'));
    if (bearer === 'missing') {
      return refusal(
        c,
        401,
        'UNAUTHORIZED',
        'sign in with the link `popvault serve` printed, or send an Authorization: Bearer <token> header',
      );
    }
    if (bearer === 'invalid') {
      return refusal(c, 401, 'INVALID_TOKEN', 'the bearer token is not valid');
    }
    return next();
  };
}
