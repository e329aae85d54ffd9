/**
 * The query API: read-only JSON over the archive ports, plus the raw message and its attachments.
 * The app is built from its dependencies (an index, a raw store, optionally a presigner, a bearer
 * token, and which mailboxes each caller may read), so the same app serves Lambda behind API Gateway,
 * a local `popvault serve`, and tests that call `app.request()` in-process.
 *
 * Mail is hostile content served from our origin, so every response is `no-store` and `nosniff`, and
 * message bytes are only ever offered as downloads: a message or attachment rendered by the browser
 * could run script with the API's origin (and its token, for a local UI).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { pipeline, Readable, Transform } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type {
  AttachmentSummary,
  ListMessagesQuery,
  MailboxSummary,
  MessageIndex,
  MessagePage,
  MessageRecord,
  RawStore,
  RunRecord,
} from '../core/archive/ports.js';
import { readAttachment } from '../core/message/attachment-reader.js';
import { sanitizeFilename } from '../core/message/filenames.js';
import { createMessageParser } from '../core/message/message-parser.js';
import { PARSER_VERSION } from '../core/message/parser-version.js';
import {
  ApiError,
  type ApiLogger,
  errorResponse,
  mailboxNotFound,
  messageNotFound,
} from './errors.js';
import { ALL_MAILBOXES, canRead, type MailboxAccess } from './mailbox-access.js';
import { openApiDocument } from './openapi.js';
import {
  DEFAULT_MESSAGE_LIMIT,
  DEFAULT_RUN_LIMIT,
  decodeMessageRef,
  encodeMessageRef,
  MAX_MESSAGE_LIMIT,
  MAX_RUN_LIMIT,
  parseAddress,
  parseAttachmentIndex,
  parseBoolean,
  parseCursor,
  parseDateBound,
  parseLimit,
  parseMailboxId,
  parseMessageIdQuery,
  parseSubject,
  readQuery,
} from './params.js';

export interface QueryAppDeps {
  index: MessageIndex;
  store: RawStore;
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
}

type AppEnv = { Variables: { requestId: string; access: MailboxAccess } };

/** The routes, in Hono's syntax; openapi.ts documents each (the tests hold the two together). */
export const ROUTES = {
  openapi: '/openapi.json',
  mailboxes: '/mailboxes',
  mailboxMessages: '/mailboxes/:mailboxId/messages',
  mailboxRuns: '/mailboxes/:mailboxId/runs',
  messagesByMessageId: '/messages',
  message: '/messages/:id',
  raw: '/messages/:id/raw',
  attachment: '/messages/:id/attachments/:n',
  // The same three with the mailbox in the path, so that an IAM policy can grant one mailbox's
  // messages (".../GET/mailboxes/work/*"); the routes above name no mailbox, so an IAM grant of them
  // is a grant of the whole archive.
  mailboxMessage: '/mailboxes/:mailboxId/messages/:id',
  mailboxRaw: '/mailboxes/:mailboxId/messages/:id/raw',
  mailboxAttachment: '/mailboxes/:mailboxId/messages/:id/attachments/:n',
} as const;

/**
 * Senders shown per list item. The detail has them all; a hostile From: with 32 long addresses would
 * otherwise make each item ~35 KB and a 200-item page too large for Lambda's response payload.
 */
export const LIST_ITEM_MAX_FROM = 3;
/**
 * Records a Message-ID lookup returns. One message is normally archived in one or a few mailboxes;
 * more copies are forgeries or list duplicates, and the response must stay bounded whatever the index
 * holds.
 */
export const MAX_MESSAGE_ID_MATCHES = 50;
/** Characters of the subject used to name a downloaded .eml: enough to recognise it in a folder. */
const RAW_FILENAME_STEM_LENGTH = 100;
/** Short tokens could be guessed over the network; the CLI generates 43 characters. */
const MIN_BEARER_TOKEN_LENGTH = 16;
/** RFC 6750's b64token: what may follow "Bearer " in an Authorization header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const consoleLogger: ApiLogger = {
  warn: (message, attributes) => console.warn(JSON.stringify({ message, ...attributes })),
  error: (message, attributes) => console.error(JSON.stringify({ message, ...attributes })),
};

// ---------------------------------------------------------------------------------------------
// Response shapes (openapi.ts documents them)
// ---------------------------------------------------------------------------------------------

function mailboxItem(summary: MailboxSummary) {
  const run = summary.lastRun;
  return {
    mailboxId: summary.mailboxId,
    messages: summary.messages,
    octets: summary.octets,
    lastRun: run
      ? {
          runId: run.runId,
          outcome: run.outcome,
          endedAt: run.endedAt,
          errorCode: run.errorCode,
          errorMessage: run.errorMessage,
        }
      : null,
    lastSuccessAt: summary.lastSuccessAt,
    // The latest run's error, so a mailbox that has started failing stands out in the list; null once
    // a run ends cleanly again (the run history keeps older errors).
    lastError:
      run !== null && run.errorCode !== null
        ? { code: run.errorCode, message: run.errorMessage, runId: run.runId, at: run.endedAt }
        : null,
  };
}

/** Only fields chosen here are exposed: a field added to the record later is not published by default. */
function listItem(record: MessageRecord) {
  return {
    id: encodeMessageRef(record),
    mailboxId: record.mailboxId,
    messageKey: record.messageKey,
    messageId: record.messageId,
    subject: record.subject,
    from: record.from.slice(0, LIST_ITEM_MAX_FROM),
    date: record.date,
    archivedAt: record.archivedAt,
    snippet: record.snippet,
    octets: record.octets,
    attachmentCount: record.attachments.length,
    attachmentsTruncated: record.attachmentsTruncated,
    deletedFromServerAt: record.deletedFromServerAt,
  };
}

function messageDetail(record: MessageRecord) {
  return {
    id: encodeMessageRef(record),
    mailboxId: record.mailboxId,
    messageKey: record.messageKey,
    uidl: record.uidl,
    messageId: record.messageId,
    subject: record.subject,
    from: record.from,
    to: record.to,
    cc: record.cc,
    addressesTruncated: record.addressesTruncated,
    date: record.date,
    dateHeader: record.dateHeader,
    snippet: record.snippet,
    octets: record.octets,
    sha256: record.sha256,
    archivedAt: record.archivedAt,
    runId: record.runId,
    deletedFromServerAt: record.deletedFromServerAt,
    parseError: record.parseError,
    parserVersion: record.parserVersion,
    attachments: record.attachments.map((attachment, index) => ({
      index,
      filename: attachment.filename,
      contentType: attachment.contentType,
      octets: attachment.octets,
      sha256: attachment.sha256,
    })),
    attachmentsTruncated: record.attachmentsTruncated,
  };
}

function runItem(run: RunRecord) {
  return {
    mailboxId: run.mailboxId,
    runId: run.runId,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    outcome: run.outcome,
    counts: run.counts,
    stopReason: run.stopReason,
    errorCode: run.errorCode,
    errorMessage: run.errorMessage,
    failures: run.failures,
    session: run.session === null ? null : { ...run.session },
  };
}

// ---------------------------------------------------------------------------------------------
// Downloads
// ---------------------------------------------------------------------------------------------

/**
 * Types a browser would execute or render as a document if it ever displayed one (a download link
 * opened in a tab, an old browser ignoring the disposition): served as application/octet-stream.
 */
export function isActiveContentType(contentType: string): boolean {
  const type = contentType.toLowerCase();
  return (
    type.startsWith('text/html') ||
    type.includes('xml') ||
    type.includes('script') ||
    type.startsWith('multipart/') ||
    type.startsWith('message/') ||
    type === 'application/x-shockwave-flash'
  );
}

/** RFC 5987 attr-char: encodeURIComponent also leaves ' ( ) * unencoded, which attr-char excludes. */
function encodeExtValue(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * `attachment` with the name twice (RFC 6266): `filename*` carries it exactly in UTF-8, `filename` an
 * ASCII stand-in for clients that ignore `filename*`. The name is sanitised again here (no path,
 * control, bidi or reserved characters) whatever the index holds, and the fallback additionally loses
 * quotes, backslashes and "%" (which some browsers percent-decode in `filename`).
 */
export function contentDisposition(name: string | null, fallback: string): string {
  const safe = sanitizeFilename(name ?? undefined) ?? fallback;
  const ascii =
    safe
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .replace(/[^\x20-\x7e]|["\\%]/g, '_')
      .trim() || fallback;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeExtValue(safe)}`;
}

/** The .eml download name: the subject if it gives a usable name, else part of the digest. */
function rawFilename(record: MessageRecord): string {
  // A "/" in a subject ("Q1/Q2 figures") is text, not a path: sanitizeFilename would keep only "Q2
  // figures".
  const subject = sanitizeFilename(record.subject?.replace(/[/\\]/g, '-')) ?? '';
  const stem = Array.from(subject)
    .slice(0, RAW_FILENAME_STEM_LENGTH)
    .join('')
    .replace(/[. ]+$/, '');
  return `${stem || `message-${record.sha256.slice(0, 12)}`}.eml`;
}

const DOWNLOAD_HEADERS = {
  // The body is never a document of ours: even rendered, it may load nothing and run nothing.
  'Content-Security-Policy': "default-src 'none'; sandbox",
};

/**
 * Passes bytes through and, at their end, checks them against what the index recorded: a response is
 * never silently different from the archived message. The latest chunk is held back until the next
 * one arrives or the check passes, so on a mismatch the client gets fewer octets than Content-Length
 * says (a transfer it knows failed), never the full count of wrong bytes.
 */
function verifying(expected: { sha256: string; octets: number }, what: string): Transform {
  const hash = createHash('sha256');
  let octets = 0;
  let held: Buffer | null = null;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      octets += chunk.length;
      const previous = held;
      held = chunk;
      callback(null, previous ?? undefined);
    },
    flush(callback) {
      const sha256 = hash.digest('hex');
      if (octets === expected.octets && sha256 === expected.sha256) {
        callback(null, held ?? undefined);
        return;
      }
      callback(
        new Error(
          `${what} is ${octets} octets with sha256 ${sha256}; the index recorded ${expected.octets} octets with sha256 ${expected.sha256}`,
        ),
      );
    },
  });
}

/**
 * Opens the `position`-th attachment of a raw message, in the order the message parser listed them,
 * verified against the size and hash the index recorded. The reader runs the parser's own scanner
 * and decoders (attachment-reader.ts), so numbering and bytes agree by construction; it streams the
 * target with backpressure and stops reading the message once the target has ended.
 *
 * Resolves once the target's headers are parsed, so a message that no longer yields it is an error
 * response, not a broken download; after that, failures error the returned stream.
 */
async function openAttachment(
  raw: Readable,
  position: number,
  expected: AttachmentSummary,
): Promise<Readable> {
  let content: Readable;
  try {
    content = await readAttachment(raw, position);
  } catch (cause) {
    throw new ApiError(
      500,
      'ATTACHMENT_UNREADABLE',
      'the stored message no longer yields this attachment',
      { cause },
    );
  }
  const target = verifying(expected, `attachment ${position}`);
  // The client went away, or the bytes did not verify: stop reading the message.
  target.once('close', () => content.destroy());
  pipeline(content, target, () => {});
  return target;
}

/**
 * Where the attachment a record lists at `position` is now, and what the current parser records for
 * it. A record from another parser version may number its attachments otherwise, or name or type
 * them by older rules: its number and hash are not trusted until the current parser, run over the raw
 * message, yields an attachment of the same size and hash (at that position if it still is there,
 * else the first other one). The name and type served are then the current parser's.
 */
async function locateAttachment(
  record: MessageRecord,
  position: number,
  listed: AttachmentSummary,
  store: RawStore,
): Promise<{ position: number; attachment: AttachmentSummary }> {
  if (record.parserVersion === PARSER_VERSION) return { position, attachment: listed };
  const parser = createMessageParser();
  await pipelineAsync(await store.get(record.rawKey), parser.sink);
  const current = (await parser.metadata).attachments;
  const same = (a: AttachmentSummary | undefined) =>
    a !== undefined && a.sha256 === listed.sha256 && a.octets === listed.octets;
  const found = same(current[position]) ? position : current.findIndex(same);
  const attachment = current[found];
  if (attachment === undefined) {
    // The index and the message disagree, which no request can fix: a server error, logged with
    // the request id, as when the current version's own attachment does not verify.
    throw new ApiError(
      500,
      'ATTACHMENT_UNREADABLE',
      `the message was indexed by parser version ${record.parserVersion}, and the current parser (version ${PARSER_VERSION}) finds no attachment of that size and hash in it; download the raw message instead`,
    );
  }
  return { position: found, attachment };
}

// ---------------------------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------------------------

function bearerAuth(token: string): MiddlewareHandler<AppEnv> {
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

export function createQueryApp(deps: QueryAppDeps) {
  const { index, store, rawLink } = deps;
  const logger = deps.logger ?? consoleLogger;
  const maxBodyOctets = deps.maxBodyOctets ?? Number.POSITIVE_INFINITY;
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    c.set('requestId', deps.requestId?.(c) ?? randomUUID());
    await next();
    // Set after the route, on every response including errors and redirects: mail (and the presigned
    // link to it) must not stay in shared or browser caches.
    c.res.headers.set('Cache-Control', 'no-store');
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
    c.res.headers.set('X-Request-Id', c.get('requestId'));
  });
  if (deps.auth) app.use('*', bearerAuth(deps.auth.bearerToken));
  // After authentication, before any route: a token the app cannot read is refused here, for every
  // path, and every route reads the answer from the context.
  app.use('*', async (c, next) => {
    c.set('access', deps.access ? deps.access(c) : ALL_MAILBOXES);
    await next();
  });

  const mayRead = (c: Context<AppEnv>, mailboxId: string) => canRead(c.get('access'), mailboxId);

  /** The path's mailbox, checked against the caller's grant before the index is asked about it. */
  const requireMailbox = async (c: Context<AppEnv>): Promise<string> => {
    const mailboxId = parseMailboxId(c.req.param('mailboxId') ?? '');
    if (!mayRead(c, mailboxId) || (await index.getMailbox(mailboxId)) === null) {
      throw mailboxNotFound(mailboxId);
    }
    return mailboxId;
  };

  /**
   * The message the path's id names. On the mailbox-scoped routes the id must name a message of the
   * path's mailbox: otherwise a caller granted /mailboxes/A/* by IAM could read B's mail with B's id.
   */
  const requireMessage = async (c: Context<AppEnv>): Promise<MessageRecord> => {
    const pathMailbox = c.req.param('mailboxId');
    const mailboxId = pathMailbox === undefined ? undefined : parseMailboxId(pathMailbox);
    const ref = decodeMessageRef(c.req.param('id') ?? '');
    if ((mailboxId !== undefined && ref.mailboxId !== mailboxId) || !mayRead(c, ref.mailboxId)) {
      throw messageNotFound();
    }
    const record = await index.getMessage(ref.mailboxId, ref.messageKey);
    if (record === null) throw messageNotFound();
    return record;
  };

  const refuseLarge = (octets: number, what: string, instead: string) => {
    if (octets > maxBodyOctets) {
      throw new ApiError(
        422,
        'RESPONSE_TOO_LARGE',
        `${what} is ${octets} octets; this API returns at most ${maxBodyOctets} here. ${instead}`,
      );
    }
  };

  /** Streams `body` as the response; a failure after the headers went out can only be logged. */
  const stream = (
    c: Context<AppEnv>,
    body: Readable,
    headers: Record<string, string>,
  ): Response => {
    const requestId = c.get('requestId');
    body.once('error', (error: Error & { code?: unknown }) => {
      // A client that stops a download is no failure of ours.
      if (error.name === 'AbortError' || error.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
      logger.error('query API response stream failed', {
        requestId,
        path: c.req.path,
        error: error.message,
        cause: error.cause instanceof Error ? error.cause.message : undefined,
      });
    });
    return c.body(Readable.toWeb(body) as ReadableStream, 200, headers);
  };

  app.get(ROUTES.openapi, (c) => {
    readQuery(c.req.url, []);
    return c.json(openApiDocument);
  });

  app.get(ROUTES.mailboxes, async (c) => {
    readQuery(c.req.url, []);
    const mailboxes = await index.listMailboxes();
    const visible = mailboxes.filter((mailbox) => mayRead(c, mailbox.mailboxId));
    return c.json({ items: visible.map(mailboxItem) });
  });

  app.get(ROUTES.mailboxMessages, async (c) => {
    const params = readQuery(c.req.url, [
      'since',
      'until',
      'from',
      'subject',
      'hasAttachments',
      'limit',
      'cursor',
    ]);
    const get = (name: string) => params.get(name);
    const limit = parseLimit(get('limit'), {
      default: DEFAULT_MESSAGE_LIMIT,
      max: MAX_MESSAGE_LIMIT,
    });
    const filters: Omit<ListMessagesQuery, 'limit' | 'cursor'> = {};
    const since = get('since');
    const until = get('until');
    if (since !== undefined) filters.since = parseDateBound('since', since);
    if (until !== undefined) filters.until = parseDateBound('until', until);
    if (
      filters.since !== undefined &&
      filters.until !== undefined &&
      filters.since > filters.until
    ) {
      throw new ApiError(400, 'INVALID_PARAMETER', 'since is later than until');
    }
    const subject = get('subject');
    if (subject !== undefined) filters.subject = parseSubject(subject);
    const hasAttachments = get('hasAttachments');
    if (hasAttachments !== undefined) {
      filters.hasAttachments = parseBoolean('hasAttachments', hasAttachments);
    }
    const from = get('from');
    const sender = from === undefined ? null : parseAddress(from);
    const cursorParam = get('cursor');
    const cursor = cursorParam === undefined ? null : parseCursor(cursorParam);

    const mailboxId = await requireMailbox(c);
    // One index call per request: with filters the adapter already reads a bounded number of index
    // pages to fill the page, and returns a short page with a cursor past that. Looping here as well
    // would multiply that bound, and with it the cost and latency of one request.
    const query: ListMessagesQuery = { ...filters, limit, cursor };
    const page: MessagePage =
      sender === null
        ? await index.listMessages(mailboxId, query)
        : await index.listBySender(mailboxId, sender, query);
    return c.json({ items: page.items.map(listItem), nextCursor: page.cursor });
  });

  app.get(ROUTES.mailboxRuns, async (c) => {
    const params = readQuery(c.req.url, ['limit']);
    const limit = parseLimit(params.get('limit'), {
      default: DEFAULT_RUN_LIMIT,
      max: MAX_RUN_LIMIT,
    });
    const mailboxId = await requireMailbox(c);
    const runs = await index.listRuns(mailboxId, limit);
    return c.json({ items: runs.map(runItem) });
  });

  app.get(ROUTES.messagesByMessageId, async (c) => {
    const params = readQuery(c.req.url, ['messageId']);
    const value = params.get('messageId');
    if (value === undefined) {
      throw new ApiError(
        400,
        'MISSING_PARAMETER',
        'messageId is required: /messages?messageId=<id@example.com>',
      );
    }
    // Filtered before the cap, so `truncated` and the items say nothing of mailboxes not granted.
    const records = (await index.findByMessageId(parseMessageIdQuery(value))).filter((record) =>
      mayRead(c, record.mailboxId),
    );
    const sortDate = (r: MessageRecord) => r.date ?? r.archivedAt;
    records.sort(
      (a, b) =>
        sortDate(b).localeCompare(sortDate(a)) ||
        a.mailboxId.localeCompare(b.mailboxId) ||
        a.messageKey.localeCompare(b.messageKey),
    );
    return c.json({
      items: records.slice(0, MAX_MESSAGE_ID_MATCHES).map(listItem),
      truncated: records.length > MAX_MESSAGE_ID_MATCHES,
    });
  });

  const getMessage = async (c: Context<AppEnv>) => {
    readQuery(c.req.url, []);
    return c.json(messageDetail(await requireMessage(c)));
  };
  app.get(ROUTES.message, getMessage);
  app.get(ROUTES.mailboxMessage, getMessage);

  const getRaw = async (c: Context<AppEnv>) => {
    readQuery(c.req.url, []);
    const record = await requireMessage(c);
    if (rawLink) return c.redirect(await rawLink(record.rawKey), 302);
    refuseLarge(record.octets, 'the message', 'Configure a raw link to download it.');
    const headers = {
      ...DOWNLOAD_HEADERS,
      'Content-Type': 'message/rfc822',
      'Content-Disposition': contentDisposition(rawFilename(record), 'message.eml'),
      'Content-Length': String(record.octets),
    };
    // HEAD gets the headers without opening the object (its body would be dropped unread, leaving
    // the store's connection open).
    if (c.req.method === 'HEAD') return c.body(null, 200, headers);
    const body = await store.get(record.rawKey);
    const checked = verifying(record, 'the raw message');
    pipeline(body, checked, () => {});
    return stream(c, checked, headers);
  };
  app.get(ROUTES.raw, getRaw);
  app.get(ROUTES.mailboxRaw, getRaw);

  const getAttachment = async (c: Context<AppEnv>) => {
    readQuery(c.req.url, []);
    const position = parseAttachmentIndex(c.req.param('n') ?? '');
    const record = await requireMessage(c);
    const listed = record.attachments[position];
    if (listed === undefined) {
      const count = record.attachments.length;
      throw new ApiError(
        404,
        'ATTACHMENT_NOT_FOUND',
        `the message lists ${count} attachment${count === 1 ? '' : 's'}; ${position} is not one (0-based)`,
      );
    }
    refuseLarge(listed.octets, 'the attachment', 'Download the raw message instead.');
    const located = await locateAttachment(record, position, listed, store);
    const attachment = located.attachment;
    const contentType = isActiveContentType(attachment.contentType)
      ? 'application/octet-stream'
      : attachment.contentType;
    const headers = {
      ...DOWNLOAD_HEADERS,
      'Content-Type': contentType,
      'Content-Disposition': contentDisposition(attachment.filename, `attachment-${position}`),
      'Content-Length': String(attachment.octets),
    };
    if (c.req.method === 'HEAD') return c.body(null, 200, headers);
    const content = await openAttachment(
      await store.get(record.rawKey),
      located.position,
      attachment,
    );
    return stream(c, content, headers);
  };
  app.get(ROUTES.attachment, getAttachment);
  app.get(ROUTES.mailboxAttachment, getAttachment);

  // Every path answers other methods with 405, not 404: the resource exists, the method does not.
  for (const path of Object.values(ROUTES)) {
    app.all(path, (c) => {
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${c.req.method} is not allowed; use GET`, {
        headers: { Allow: 'GET, HEAD' },
      });
    });
  }

  app.notFound((c) =>
    errorResponse(new ApiError(404, 'ROUTE_NOT_FOUND', 'no such route; see /openapi.json'), c, {
      requestId: c.get('requestId'),
      logger,
    }),
  );
  app.onError((error, c) => errorResponse(error, c, { requestId: c.get('requestId'), logger }));
  return app;
}

export type QueryApp = ReturnType<typeof createQueryApp>;
