import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';

/** Short tokens could be guessed over the network; the CLI generates 43 characters. */
const MIN_BEARER_TOKEN_LENGTH = 16;
/** RFC 6750's b64token: what may follow "Bearer " in an Authorization header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export type BearerCheck = 'missing' | 'invalid' | 'valid';

/**
 * Checks an Authorization header against the token: the API's middleware below and the local
 * viewer's guard (functions/viewer/local-guard.ts) both ask this one function.
 */
export function bearerVerifier(token: string): (authorization: string | undefined) => BearerCheck {
  if (token.length < MIN_BEARER_TOKEN_LENGTH || !B64TOKEN.test(token)) {
    throw new Error(
      `the API bearer token must be at least ${MIN_BEARER_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + /`,
    );
  }
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    if (match === null) return 'missing';
    // Both sides hashed to 32 bytes: the comparison takes the same time whatever was sent, and its
    // length reveals nothing about the token's.
    return timingSafeEqual(digest(match[1] ?? ''), expected) ? 'valid' : 'invalid';
  };
}

/** The local API's authentication: `Authorization: Bearer <token>`, for every path. */
export function bearerAuth(token: string): MiddlewareHandler {
  const verify = bearerVerifier(token);
  return async (c, next) => {
    const check = verify(c.req.header('authorization'));
    if (check === 'missing') {
      throw new ApiError(401, 'UNAUTHORIZED', 'send an Authorization: Bearer <token> header', {
        headers: { 'WWW-Authenticate': 'Bearer realm="popvault"' },
      });
    }
    if (check === 'invalid') {
      throw new ApiError(401, 'INVALID_TOKEN', 'the bearer token is not valid', {
        headers: { 'WWW-Authenticate': 'Bearer realm="popvault", error="invalid_token"' },
      });
    }
    await next();
  };
}
