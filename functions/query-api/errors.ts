/**
 * The query API's one place where failures become responses. Every error body has the same shape,
 * `{ "error": { "code", "message" } }`: a client branches on `code` (stable), a human reads `message`.
 *
 * What a client may see is decided here, not where an error is thrown: an ApiError's message was
 * written for the client; an archive error that the caller caused (a cursor this index did not issue)
 * is shown as the index phrased it; anything else is answered with a generic message and a request id,
 * and its details (stack, SDK error, cause) go only to the injected logger. Mail content must never
 * end up in a response to a request that failed, and a stack trace would tell an attacker too much.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ArchiveError } from '../core/archive/errors.js';

/**
 * Every code an error body can carry: a closed list, so a client can branch on it and the OpenAPI
 * document can enumerate it (schemas/error-schemas.ts).
 */
export const API_ERROR_CODES = [
  /** No, or a malformed, Authorization header. */
  'UNAUTHORIZED',
  /** A bearer token that is not the configured one. */
  'INVALID_TOKEN',
  /**
   * A valid JWT that does not carry what this deployment requires (a required scope, or the claim
   * naming the caller's mailboxes): a problem with how the token was issued, not with a mailbox.
   */
  'FORBIDDEN',
  /** No route has this path. */
  'ROUTE_NOT_FOUND',
  /** The path exists, but only for GET (and HEAD). */
  'METHOD_NOT_ALLOWED',
  /** A query parameter this route does not take (usually a typo: "sinse" would otherwise be ignored). */
  'UNKNOWN_PARAMETER',
  'MISSING_PARAMETER',
  /** A parameter is present but not a value it can take (a date, limit, address, index...). */
  'INVALID_PARAMETER',
  /** A pagination cursor that is not one the index issued for this listing. */
  'INVALID_CURSOR',
  /** A message id in the URL that is not one this API issued. */
  'INVALID_MESSAGE_ID',
  /** A search query (`q`) that cannot be run: the message names the problem and the fix. */
  'INVALID_QUERY',
  'MAILBOX_NOT_FOUND',
  'MESSAGE_NOT_FOUND',
  'ATTACHMENT_NOT_FOUND',
  /** The body would exceed what the transport can carry (Lambda's response payload limit). */
  'RESPONSE_TOO_LARGE',
  /** The stored message no longer yields the attachment its index record lists. */
  'ATTACHMENT_UNREADABLE',
  /** This deployment serves no search index (/search): nothing the client sends changes that. */
  'SEARCH_UNAVAILABLE',
  /** The archive store is throttling or unreachable; retrying later should work. */
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** A failure whose status, code and message are meant for the client as they are. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: ContentfulStatusCode;
  readonly code: ApiErrorCode;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: ContentfulStatusCode,
    code: ApiErrorCode,
    message: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }
}

export interface ErrorBody {
  error: { code: ApiErrorCode; message: string; requestId?: string };
}

/** Where unexpected failures are reported (in AWS: Powertools Logger, so CloudWatch). */
export interface ApiLogger {
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/**
 * The answer for a mailbox the caller may not read is the answer for one that does not exist: a 403
 * would confirm to a caller of mailbox A that mailbox B is there (mailbox ids are often addresses),
 * and a message id that decodes to B would confirm B holds that message. Every route builds its
 * "not found" through these two, so "not allowed" and "not there" cannot drift apart.
 */
export function mailboxNotFound(mailboxId: string): ApiError {
  return new ApiError(404, 'MAILBOX_NOT_FOUND', `no mailbox ${JSON.stringify(mailboxId)}`);
}

export function messageNotFound(): ApiError {
  return new ApiError(404, 'MESSAGE_NOT_FOUND', 'no message has this id');
}

/**
 * A JWT that passed API Gateway's checks but lacks what the app requires. 403 with RFC 6750's
 * `insufficient_scope`: retrying with the same token cannot help, a token issued differently can.
 * `what` names the missing scope or claim, never a value from the token.
 */
export function forbidden(what: string): ApiError {
  return new ApiError(403, 'FORBIDDEN', what, {
    headers: { 'WWW-Authenticate': 'Bearer realm="popvault", error="insufficient_scope"' },
  });
}

/** How long a client should wait after SERVICE_UNAVAILABLE: DynamoDB and S3 throttling clears in seconds. */
const RETRY_AFTER_SECONDS = '5';

/** An archive error's code says whether the client, the store's load, or we are at fault. */
function fromArchiveError(error: ArchiveError): ApiError | null {
  switch (error.code) {
    case 'INVALID_CURSOR':
      return new ApiError(400, 'INVALID_CURSOR', error.message);
    case 'STORE_UNAVAILABLE':
      return new ApiError(503, 'SERVICE_UNAVAILABLE', 'the archive is busy or unreachable; retry', {
        headers: { 'Retry-After': RETRY_AFTER_SECONDS },
      });
    default:
      // INVALID_ARGUMENT would mean params.ts let through a value the index refuses: our bug, as are
      // a missing raw object, a denied permission or a missing table.
      return null;
  }
}

function details(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  return {
    name: error.name,
    message: error.message,
    code: (error as { code?: unknown }).code,
    stack: error.stack,
    cause: error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : undefined,
  };
}

export interface ErrorContext {
  requestId: string;
  logger: ApiLogger;
}

/** The response for any error a route, a middleware or the router raised. */
export function errorResponse(error: unknown, c: Context, context: ErrorContext): Response {
  let apiError: ApiError | null = null;
  if (error instanceof ApiError) apiError = error;
  else if (error instanceof ArchiveError) apiError = fromArchiveError(error);
  else if (error instanceof HTTPException && error.status < 500) {
    // Hono's own request parsing (a body it cannot read, for one); its message names the problem.
    apiError = new ApiError(error.status, 'INVALID_PARAMETER', error.message);
  }

  const where = { requestId: context.requestId, method: c.req.method, path: c.req.path };
  if (apiError === null || apiError.status >= 500) {
    context.logger.error('query API request failed', { ...where, ...details(error) });
  }
  if (apiError === null) {
    apiError = new ApiError(
      500,
      'INTERNAL',
      'internal error; quote the request id when reporting it',
    );
  }

  const body: ErrorBody = { error: { code: apiError.code, message: apiError.message } };
  if (apiError.status >= 500) body.error.requestId = context.requestId;
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  return c.json(body, apiError.status);
}
