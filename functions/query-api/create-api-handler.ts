import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context as LambdaContext,
} from 'aws-lambda';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { DynamoMessageIndex } from '../adapters/aws/dynamodb-message-index.js';
import { createS3ArchiveSearch } from '../adapters/aws/s3-archive-search.js';
import { S3RawStore } from '../adapters/aws/s3-raw-store.js';
import { SEARCH_CACHE_DIRECTORY } from '../adapters/aws/search-env.js';
import type { ArchiveReader, RawStore } from '../core/archive/ports.js';
import type { ArchiveSearch } from '../core/search/search-ports.js';
import type { ApiAuthorization, ApiEnv } from './api-env.js';
import { createQueryApp } from './create-query-app.js';
import type { ApiLogger } from './errors.js';
import { jwtAccess } from './jwt-access.js';
import { ALL_MAILBOXES, type MailboxAccess } from './mailbox-access.js';

/**
 * How long a presigned raw-message link works: long enough to start a download of any size (S3 checks
 * the signature when the GET starts, not while it streams), short enough that a link copied from a
 * log or a browser history is soon useless.
 */
export const RAW_LINK_EXPIRY_SECONDS = 300;

/**
 * The largest body the app returns itself. A buffered Lambda response is at most 6 MB, and binary
 * bodies go out base64-encoded (4 octets per 3), so 4.5 MB is the ceiling; 4 MiB leaves room for the
 * headers and the response envelope. Larger attachments get RESPONSE_TOO_LARGE, raw messages a link.
 */
export const LAMBDA_MAX_BODY_OCTETS = 4 * 1024 * 1024;

/** What the handler returns: headers as a map, and base64 for anything but JSON. */
export type ApiHandlerResult = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  body: string;
  isBase64Encoded: boolean;
  headers: Record<string, string>;
};

export interface ApiHandlerDeps {
  index: ArchiveReader;
  store: RawStore;
  rawLink?: (rawKey: string) => Promise<string>;
  /** Full-text search (in AWS: S3ArchiveSearch over the mailboxes' segments); absent, /search is 501. */
  search?: ArchiveSearch;
  logger: ApiLogger;
  /** Required, so a handler cannot be built that skips the per-mailbox checks by omission. */
  authorization: ApiAuthorization;
}

/**
 * The archive adapters as the deployed API uses them; the clients are created once per container,
 * and so is the search's segment cache (it lives as long as the container's /tmp).
 */
export function awsArchive(
  env: ApiEnv,
  clients: { s3: S3Client; dynamo: DynamoDBClient },
): Required<Pick<ApiHandlerDeps, 'index' | 'store' | 'rawLink'>> & Pick<ApiHandlerDeps, 'search'> {
  const index = new DynamoMessageIndex({ client: clients.dynamo, tableName: env.tableName });
  return {
    index,
    ...(env.search === true
      ? {
          search: createS3ArchiveSearch({
            client: clients.s3,
            bucket: env.bucketName,
            records: index,
            cacheDirectory: SEARCH_CACHE_DIRECTORY,
          }),
        }
      : {}),
    store: new S3RawStore({ client: clients.s3, bucket: env.bucketName }),
    rawLink: (rawKey) =>
      getSignedUrl(
        clients.s3,
        new GetObjectCommand({
          Bucket: env.bucketName,
          Key: rawKey,
          // What the API would have sent itself: a download, never rendered, never cached.
          ResponseContentType: 'message/rfc822',
          ResponseContentDisposition: 'attachment; filename="message.eml"',
          ResponseCacheControl: 'no-store',
        }),
        { expiresIn: RAW_LINK_EXPIRY_SECONDS },
      ),
  };
}

/** API Gateway's id for the request, so a client's error report finds the access log line too. */
function gatewayRequestId(env: unknown): string | undefined {
  const id = (env as { requestContext?: { requestId?: unknown } } | undefined)?.requestContext
    ?.requestId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** The claims API Gateway's JWT authorizer verified, or null when the event carries none. */
function verifiedClaims(env: unknown): Record<string, unknown> | null {
  const claims = (
    env as { requestContext?: { authorizer?: { jwt?: { claims?: unknown } } } } | undefined
  )?.requestContext?.authorizer?.jwt?.claims;
  return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
    ? (claims as Record<string, unknown>)
    : null;
}

function accessFor(authorization: ApiAuthorization): (c: { env: unknown }) => MailboxAccess {
  if (authorization.kind === 'iam') return () => ALL_MAILBOXES;
  return (c) => jwtAccess(verifiedClaims(c.env), authorization);
}

/**
 * Builds the query API's Lambda handler (API Gateway HTTP API, payload v2). API Gateway authenticates
 * (IAM or JWT); with JWT the app also limits each request to the mailboxes the token names.
 */
export function createApiHandler(
  deps: ApiHandlerDeps,
): (event: APIGatewayProxyEventV2, context?: LambdaContext) => Promise<ApiHandlerResult> {
  const app = createQueryApp({
    index: deps.index,
    store: deps.store,
    ...(deps.rawLink ? { rawLink: deps.rawLink } : {}),
    ...(deps.search ? { search: deps.search } : {}),
    logger: deps.logger,
    access: accessFor(deps.authorization),
    maxBodyOctets: LAMBDA_MAX_BODY_OCTETS,
    requestId: (c) => gatewayRequestId(c.env),
  });
  const lambda = handle(app, {
    // Only JSON goes out as text. Anything else is sent base64-encoded, byte for byte: Hono's default
    // would send text/plain or text/csv attachments through a UTF-8 decode, which mangles any other
    // charset.
    isContentTypeBinary: (contentType) => !/^application\/json\s*(;|$)/i.test(contentType),
  });
  // Typed by @types/aws-lambda, the event shape Lambda documents: Hono's own event types insist on
  // fields (body, authorizer) that HTTP API leaves out when there is nothing to put in them.
  return (event, context) =>
    lambda(event as unknown as LambdaEvent, context as never) as Promise<ApiHandlerResult>;
}
