import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';

/** Short tokens could be guessed over the network; the CLI generates 43 characters. */
const MIN_BEARER_TOKEN_LENGTH = 16;
/** RFC 6750's b64token: what may follow "Bearer " in an Authorization header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The local API's authentication: `Authorization: Bearer <token>`, for every path. */
export function bearerAuth(token: string): MiddlewareHandler {
  if (token.length < MIN_BEARER_TOKEN_LENGTH || !B64TOKEN.test(token)) {
    throw new Error(
      `the API bearer token must be at least ${MIN_BEARER_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + /`,
    );
  }
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  const expected = digest(token);
  return async (c, next) => {
    const match = /^Bearer +(\S+) *$/i.exec(c.req.header('authorization') ?? '');
    if (match === null) {
      throw new ApiError(401, 'UNAUTHORIZED', 'send an Authorization: Bearer <token> header', {
        headers: { 'WWW-Authenticate': 'Bearer realm="popvault"' },
      });
    }
    // Both sides hashed to 32 bytes: the comparison takes the same time whatever was sent, and its
    // length reveals nothing about the token's.
    if (!timingSafeEqual(digest(match[1] ?? ''), expected)) {
      throw new ApiError(401, 'INVALID_TOKEN', 'the bearer token is not valid', {
        headers: { 'WWW-Authenticate': 'Bearer realm="popvault", error="invalid_token"' },
      });
    }
    await next();
  };
}
