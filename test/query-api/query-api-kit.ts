/**
 * Seeding the archive through its ports, as the pull run does: real message bytes are parsed by the
 * real parser and stored through the RawStore, and the record is written through the MessageIndex.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { expect } from 'vitest';
import type {
  MessageIndex,
  MessageRecord,
  RawStore,
  RunRecord,
} from '../../functions/core/archive/ports.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import type { ApiLogger } from '../../functions/query-api/errors.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'mail');

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Archive {
  index: MessageIndex;
  store: RawStore;
}

export interface SeedInput {
  mailboxId: string;
  messageKey: string;
  raw: Buffer;
  archivedAt?: string;
  /** The record as something else wrote it (an older parser version, say), before it is stored. */
  edit?: (record: MessageRecord) => MessageRecord;
}

export async function seed(archive: Archive, input: SeedInput): Promise<MessageRecord> {
  const parser = createMessageParser();
  parser.sink.end(input.raw);
  const metadata = await parser.metadata;
  const digest = sha256(input.raw);
  const ref = await archive.store.put({
    mailboxId: input.mailboxId,
    sha256: digest,
    octets: input.raw.length,
    source: { kind: 'buffer', data: input.raw },
  });
  const record: MessageRecord = {
    ...metadata,
    mailboxId: input.mailboxId,
    messageKey: input.messageKey,
    uidl: input.messageKey,
    octets: input.raw.length,
    sha256: digest,
    rawKey: ref.key,
    archivedAt: input.archivedAt ?? '2024-06-01T00:00:00.000Z',
    runId: 'run-seed',
    deletedFromServerAt: null,
  };
  const stored = input.edit?.(record) ?? record;
  // With its text, as the pull run writes it: an index that searches indexes it.
  await archive.index.putMessage(stored, await parser.text);
  return stored;
}

export function run(mailboxId: string, runId: string, fields: Partial<RunRecord> = {}): RunRecord {
  return {
    mailboxId,
    runId,
    startedAt: '2024-06-01T10:00:00.000Z',
    endedAt: '2024-06-01T10:00:05.000Z',
    outcome: 'success',
    counts: {
      listed: 3,
      retrieved: 3,
      stored: 3,
      alreadyStored: 0,
      deleted: 0,
      skipped: 0,
      failed: 0,
      octets: 4096,
      remainingOnServer: 3,
    },
    stopReason: null,
    errorCode: null,
    errorMessage: null,
    failures: [],
    session: { utf8: 'not-offered', sizeMismatches: 0, sizesSuspect: false },
    ...fields,
  };
}

/** A message built here, for shapes no fixture has: `parts` are MIME parts after the text part. */
export function mimeMessage(options: {
  subject: string;
  date?: string;
  from?: string;
  messageId?: string;
  parts?: Array<{ headers: string; body: string }>;
}): Buffer {
  const head = [
    `From: ${options.from ?? 'sender@example.com'}`,
    'To: me@example.net',
    `Subject: ${options.subject}`,
    ...(options.date ? [`Date: ${options.date}`] : []),
    ...(options.messageId ? [`Message-ID: ${options.messageId}`] : []),
    'MIME-Version: 1.0',
  ];
  if (!options.parts || options.parts.length === 0) {
    return Buffer.from(
      [
        ...head,
        'Content-Type: text/plain; charset=utf-8',
        '',
        `Body of ${options.subject}`,
        '',
      ].join('\r\n'),
    );
  }
  const lines = [...head, 'Content-Type: multipart/mixed; boundary="b0"', '', '--b0'];
  lines.push('Content-Type: text/plain; charset=utf-8', '', `Body of ${options.subject}`);
  for (const part of options.parts) lines.push('--b0', part.headers, '', part.body);
  lines.push('--b0--', '');
  return Buffer.from(lines.join('\r\n'));
}

/** Base64 in 76-character lines, as mailers write it. */
export function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

export class RecordingLogger implements ApiLogger {
  readonly entries: Array<{ level: string; message: string; attributes: Record<string, unknown> }> =
    [];
  warn(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'warn', message, attributes });
  }
  error(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'error', message, attributes });
  }
}

export interface ErrorJson {
  error: { code: string; message: string; requestId?: string };
}

export async function errorOf(res: Response): Promise<ErrorJson['error']> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorJson;
  expect(Object.keys(body)).toEqual(['error']);
  return body.error;
}

const HOST = 'abc123.execute-api.eu-west-1.amazonaws.com';

/**
 * An API Gateway HTTP API (payload format 2.0) event, as the $default route delivers it. With
 * `jwtClaims`, as a JWT authorizer passes them on: every value a string, the way API Gateway
 * renders claims (an array claim arrives as "[a b]").
 */
export function httpApiEvent(
  method: string,
  rawPath: string,
  rawQueryString = '',
  headers: Record<string, string> = {},
  jwtClaims?: Record<string, unknown>,
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: { host: HOST, 'user-agent': 'curl/8.5.0', accept: '*/*', ...headers },
    ...(rawQueryString
      ? { queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString)) }
      : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: HOST,
      domainPrefix: 'abc123',
      http: {
        method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.10',
        userAgent: 'curl/8.5.0',
      },
      requestId: 'Zx1AbCdEfGhIjKlMnO=',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jun/2024:10:00:00 +0000',
      timeEpoch: 1717236000000,
      ...(jwtClaims ? { authorizer: { jwt: { claims: jwtClaims, scopes: null } } } : {}),
    } as APIGatewayProxyEventV2['requestContext'],
    isBase64Encoded: false,
  };
}

/** Mailbox "work"'s two runs: one that succeeded, then one refused its password (AUTH_FAILED). */
export async function seedWorkRuns(index: {
  putRun(run: RunRecord): Promise<void>;
}): Promise<void> {
  await index.putRun(run('work', 'run-1'));
  await index.putRun(
    run('work', 'run-2', {
      startedAt: '2024-06-01T11:00:00.000Z',
      endedAt: '2024-06-01T11:00:02.000Z',
      outcome: 'failed',
      errorCode: 'AUTH_FAILED',
      errorMessage: 'the server refused the password',
    }),
  );
}
