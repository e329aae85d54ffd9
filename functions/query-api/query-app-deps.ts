import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ArchiveReader, RawStore } from '../core/archive/ports.js';
import type { ArchiveSearch } from '../core/search/search-ports.js';
import type { ApiLogger } from './errors.js';
import type { MailboxAccess } from './mailbox-access.js';

/**
 * What the query API is built from. The same app serves Lambda behind API Gateway, a local
 * `popvault serve`, and tests that call `app.request()` in-process; only these differ.
 */
export interface QueryAppDeps {
  index: ArchiveReader;
  store: RawStore;
  /** Full-text search (/search); without it that route answers 501 SEARCH_UNAVAILABLE. */
  search?: ArchiveSearch;
  /**
   * A short-lived URL for a raw object (in AWS: an S3 presigned GET). When given, /raw answers 302 to
   * it, so large messages never pass through the API (Lambda could not return them anyway).
   */
  rawLink?: (rawKey: string) => Promise<string>;
  /** For local serving. In AWS, API Gateway authenticates (IAM or JWT) and the app does not. */
  auth?: { bearerToken: string };
  /**
   * Which mailboxes the request may read (mailbox-access.ts); may throw an ApiError to refuse the
   * request outright. Unset: every mailbox, which is right for the archive's owner (`popvault serve`)
   * and nowhere else; the Lambda handler always sets it.
   */
  access?: (c: Context) => MailboxAccess;
  /** Where unexpected failures go with their details; clients only ever see a request id. */
  logger?: ApiLogger;
  /**
   * The largest body the app streams itself (a raw message without rawLink, an attachment); larger
   * ones are refused with RESPONSE_TOO_LARGE instead of failing in the transport. Unbounded if unset.
   */
  maxBodyOctets?: number;
  /** Correlates a response with the logs (in AWS: API Gateway's request id). Default: a UUID. */
  requestId?: (c: Context) => string | undefined;
  /** The clock "today" is read from (the activity chart). Default: Date.now. */
  now?: () => number;
}

/** What the middleware settles before any route runs; routes read both from the context. */
export type AppEnv = { Variables: { requestId: string; access: MailboxAccess } };

/** The app the routes are declared on. */
export type QueryApi = OpenAPIHono<AppEnv>;

/** What the route handlers use, with the defaults applied. */
export interface RouteDeps {
  index: ArchiveReader;
  store: RawStore;
  search: ArchiveSearch | undefined;
  rawLink: ((rawKey: string) => Promise<string>) | undefined;
  logger: ApiLogger;
  maxBodyOctets: number;
  now: () => number;
}
