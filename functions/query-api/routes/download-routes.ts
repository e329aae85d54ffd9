/**
 * The routes that answer mail itself: a message's raw bytes and its attachments, each by this API's
 * id and again with the mailbox in the path (so that an IAM policy can grant one mailbox's mail).
 */
import { pipeline, Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type MessagePath, requireMessage } from '../access-checks.js';
import { locateAttachment, openAttachment } from '../attachment-source.js';
import {
  contentDisposition,
  DOWNLOAD_HEADERS,
  isActiveContentType,
  rawFilename,
} from '../download-headers.js';
import { ApiError } from '../errors.js';
import type { AppEnv, QueryApi, RouteDeps } from '../query-app-deps.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import {
  AttachmentParams,
  MailboxAttachmentParams,
  MailboxMessageParams,
  MessageParams,
  NoQuery,
} from '../schemas/parameter-schemas.js';
import { verifying } from '../verifying-transform.js';

const downloadHeaders = {
  'Content-Disposition': {
    description:
      'Always `attachment`, with an ASCII `filename` and the exact UTF-8 name in `filename*` (RFC 6266).',
    schema: { type: 'string' as const },
  },
  'Content-Length': { schema: { type: 'integer' as const } },
  'X-Content-Type-Options': { schema: { type: 'string' as const, enum: ['nosniff'] } },
};

const getRaw = {
  method: 'get' as const,
  summary: 'The exact archived bytes (RFC 5322)',
  description:
    'Where the deployment can presign links (AWS), a 302 to a link valid for 5 minutes; otherwise the bytes themselves.',
  tags: ['messages'],
  responses: {
    200: {
      description: 'The raw message, byte for byte as archived',
      headers: downloadHeaders,
      content: {
        'message/rfc822': { schema: z.string() },
      },
    },
    302: {
      description: 'A short-lived link to the raw message',
      headers: { Location: { schema: { type: 'string' as const, format: 'uri' } } },
    },
    ...errorAnswers(400, 404, 422, 503),
  },
};

export const getRawRoute = createRoute({
  ...getRaw,
  path: '/messages/{id}/raw',
  operationId: 'getRawMessage',
  request: { query: NoQuery, params: MessageParams },
});

export const getRawInMailboxRoute = createRoute({
  ...getRaw,
  path: '/mailboxes/{mailboxId}/messages/{id}/raw',
  operationId: 'getRawMessageInMailbox',
  summary: `${getRaw.summary}, in one mailbox`,
  request: { query: NoQuery, params: MailboxMessageParams },
});

const getAttachment = {
  method: 'get' as const,
  summary: 'One attachment, decoded',
  description:
    "Served with its recorded content type, except types a browser could execute (HTML, SVG, XML, JavaScript...), which are served as application/octet-stream. Always a download. For a message indexed by another parser version (`parserVersion`), the attachment is first found again by the current parser, by its recorded size and hash, and served with the current parser's name and type; 500 `ATTACHMENT_UNREADABLE` when it finds none.",
  tags: ['messages'],
  responses: {
    200: {
      description: 'The decoded attachment',
      headers: downloadHeaders,
      content: { '*/*': { schema: z.string() } },
    },
    ...errorAnswers(400, 404, 422, 503),
  },
};

export const getAttachmentRoute = createRoute({
  ...getAttachment,
  path: '/messages/{id}/attachments/{n}',
  operationId: 'getAttachment',
  request: { query: NoQuery, params: AttachmentParams },
});

export const getAttachmentInMailboxRoute = createRoute({
  ...getAttachment,
  path: '/mailboxes/{mailboxId}/messages/{id}/attachments/{n}',
  operationId: 'getAttachmentInMailbox',
  summary: `${getAttachment.summary}, in one mailbox`,
  request: { query: NoQuery, params: MailboxAttachmentParams },
});

function refuseLarge(deps: RouteDeps, octets: number, what: string, instead: string): void {
  if (octets > deps.maxBodyOctets) {
    throw new ApiError(
      422,
      'RESPONSE_TOO_LARGE',
      `${what} is ${octets} octets; this API returns at most ${deps.maxBodyOctets} here. ${instead}`,
    );
  }
}

/** Streams `body` as the response; a failure after the headers went out can only be logged. */
function stream(
  deps: RouteDeps,
  c: Context<AppEnv>,
  body: Readable,
  headers: Record<string, string>,
): Response {
  const requestId = c.get('requestId');
  body.once('error', (error: Error & { code?: unknown }) => {
    // A client that stops a download is no failure of ours.
    if (error.name === 'AbortError' || error.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    deps.logger.error('query API response stream failed', {
      requestId,
      path: c.req.path,
      error: error.message,
      cause: error.cause instanceof Error ? error.cause.message : undefined,
    });
  });
  return c.body(Readable.toWeb(body) as ReadableStream, 200, headers);
}

async function sendRaw(deps: RouteDeps, c: Context<AppEnv>, path: MessagePath): Promise<Response> {
  const record = await requireMessage(deps.index, c.get('access'), path);
  if (deps.rawLink) return c.redirect(await deps.rawLink(record.rawKey), 302);
  refuseLarge(deps, record.octets, 'the message', 'Configure a raw link to download it.');
  const headers = {
    ...DOWNLOAD_HEADERS,
    'Content-Type': 'message/rfc822',
    'Content-Disposition': contentDisposition(rawFilename(record), 'message.eml'),
    'Content-Length': String(record.octets),
  };
  // HEAD gets the headers without opening the object (its body would be dropped unread, leaving
  // the store's connection open).
  if (c.req.method === 'HEAD') return c.body(null, 200, headers);
  const body = await deps.store.get(record.rawKey);
  const checked = verifying(record, 'the raw message');
  pipeline(body, checked, () => {});
  return stream(deps, c, checked, headers);
}

async function sendAttachment(
  deps: RouteDeps,
  c: Context<AppEnv>,
  path: MessagePath & { n: number },
): Promise<Response> {
  const position = path.n;
  const record = await requireMessage(deps.index, c.get('access'), path);
  const listed = record.attachments[position];
  if (listed === undefined) {
    const count = record.attachments.length;
    throw new ApiError(
      404,
      'ATTACHMENT_NOT_FOUND',
      `the message lists ${count} attachment${count === 1 ? '' : 's'}; ${position} is not one (0-based)`,
    );
  }
  refuseLarge(deps, listed.octets, 'the attachment', 'Download the raw message instead.');
  const located = await locateAttachment(record, position, listed, deps.store);
  const found = located.attachment;
  const contentType = isActiveContentType(found.contentType)
    ? 'application/octet-stream'
    : found.contentType;
  const headers = {
    ...DOWNLOAD_HEADERS,
    'Content-Type': contentType,
    'Content-Disposition': contentDisposition(found.filename, `attachment-${position}`),
    'Content-Length': String(found.octets),
  };
  if (c.req.method === 'HEAD') return c.body(null, 200, headers);
  const raw = await deps.store.get(record.rawKey);
  return stream(deps, c, await openAttachment(raw, located.position, found), headers);
}

export function registerDownloadRoutes(app: QueryApi, deps: RouteDeps): void {
  app.openapi(getRawRoute, (c) => sendRaw(deps, c, c.req.valid('param')));
  app.openapi(getRawInMailboxRoute, (c) => sendRaw(deps, c, c.req.valid('param')));
  app.openapi(getAttachmentRoute, (c) => sendAttachment(deps, c, c.req.valid('param')));
  app.openapi(getAttachmentInMailboxRoute, (c) => sendAttachment(deps, c, c.req.valid('param')));
}
