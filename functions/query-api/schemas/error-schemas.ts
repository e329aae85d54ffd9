/**
 * The error body and the error answers a route documents. errors.ts builds every error response;
 * this is its declaration, so the document states exactly the shape and the codes errors.ts sends.
 */
import { z } from '@hono/zod-openapi';
import { API_ERROR_CODES } from '../errors.js';

export const ErrorBody = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(API_ERROR_CODES),
      message: z.string(),
      requestId: z.string().optional().openapi({ description: 'On 5xx: quote it when reporting.' }),
    }),
  })
  .openapi('Error');

const stringHeader = { schema: { type: 'string' as const } };

/** What each error status means on this API, whichever route answers it. */
const ERROR_ANSWERS = {
  400: {
    description: 'A parameter is missing, unknown or invalid; the message says which',
  },
  401: {
    description: 'No bearer token, or the wrong one (local serving)',
    headers: { 'WWW-Authenticate': stringHeader },
  },
  403: {
    description:
      'JWT: the token lacks a required scope, or the claim naming its mailboxes; the message says which',
    headers: { 'WWW-Authenticate': stringHeader },
  },
  404: {
    description:
      'No such mailbox, message, attachment or route, or a mailbox or message the caller may not read (answered alike, so existence is not revealed)',
  },
  405: {
    description: 'Only GET and HEAD are served',
    headers: { Allow: stringHeader },
  },
  422: {
    description:
      'The body exceeds what this deployment can return directly (download the raw message)',
  },
  500: {
    description: 'An unexpected failure; the body carries a request id',
  },
  501: {
    description: 'This deployment has no search index; the other routes still answer',
  },
  503: {
    description: 'The archive store is throttling or unreachable; retry',
    headers: { 'Retry-After': { schema: { type: 'integer' as const } } },
  },
} as const;

export type ErrorStatus = keyof typeof ERROR_ANSWERS;

type ErrorAnswer<S extends ErrorStatus> = (typeof ERROR_ANSWERS)[S] & {
  content: { 'application/json': { schema: typeof ErrorBody } };
};

/**
 * The error answers of a route that can give `statuses` besides the ones every route can give:
 * 401 and 403 (authentication runs first), 405 (other methods) and 500.
 */
export function errorAnswers<const S extends ErrorStatus>(
  ...statuses: S[]
): { [K in S | 401 | 403 | 405 | 500]: ErrorAnswer<K> } {
  const all: ErrorStatus[] = [...statuses, 401, 403, 405, 500];
  const answers = Object.fromEntries(
    [...new Set(all)]
      .sort((a, b) => a - b)
      .map((status) => [
        status,
        {
          ...ERROR_ANSWERS[status],
          content: { 'application/json': { schema: ErrorBody } },
        },
      ]),
  );
  // Object.fromEntries forgets which status maps to which answer; the map above keeps them paired.
  return answers as unknown as { [K in S | 401 | 403 | 405 | 500]: ErrorAnswer<K> };
}
