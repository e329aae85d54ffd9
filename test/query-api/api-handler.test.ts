import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { ApiEnvError, loadApiEnv } from '../../functions/query-api/api-env.js';
import {
  awsArchive,
  createApiHandler,
  LAMBDA_MAX_BODY_OCTETS,
  RAW_LINK_EXPIRY_SECONDS,
} from '../../functions/query-api/create-api-handler.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import {
  base64Lines,
  fixture,
  httpApiEvent,
  mimeMessage,
  RecordingLogger,
  run,
  seed,
} from './query-api-kit.js';

const LATIN1_CSV = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x3b, 0x31, 0x0d, 0x0a]); // "café;1" in ISO-8859-1

const index = new MemoryMessageIndex();
const store = new MemoryRawStore();
const logger = new RecordingLogger();
const rawLinks: string[] = [];
const handler = createApiHandler({
  index,
  store,
  logger,
  authorization: { kind: 'iam' },
  rawLink: async (rawKey) => {
    rawLinks.push(rawKey);
    return `https://popvault-mail.s3.eu-west-1.amazonaws.com/${rawKey}?X-Amz-Expires=300`;
  },
});
let csvMessage: MessageRecord;
let hugeMessage: MessageRecord;

beforeAll(async () => {
  await seed(
    { index, store },
    { mailboxId: 'work', messageKey: 'lunch', raw: fixture('plain-text.eml') },
  );
  await index.putRun(run('work', 'r1'));
  const attachment = (name: string, data: Buffer) => ({
    headers: `Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64`,
    body: base64Lines(data),
  });
  csvMessage = await seed(
    { index, store },
    {
      mailboxId: 'work',
      messageKey: 'csv',
      raw: mimeMessage({
        subject: 'Prices',
        date: 'Mon, 20 May 2024 08:00:00 +0000',
        parts: [
          {
            headers:
              'Content-Type: text/csv; charset=iso-8859-1\r\nContent-Disposition: attachment; filename="prices.csv"\r\nContent-Transfer-Encoding: base64',
            body: base64Lines(LATIN1_CSV),
          },
        ],
      }),
    },
  );
  hugeMessage = await seed(
    { index, store },
    {
      mailboxId: 'work',
      messageKey: 'huge',
      raw: mimeMessage({
        subject: 'Huge',
        parts: [attachment('huge.bin', Buffer.alloc(LAMBDA_MAX_BODY_OCTETS + 1, 7))],
      }),
    },
  );
});

describe('the Lambda handler (API Gateway HTTP API v2)', () => {
  it('answers JSON as text, with the gateway request id and no-store', async () => {
    const result = await handler(httpApiEvent('GET', '/mailboxes'));
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(result.headers?.['content-type']).toMatch(/^application\/json/);
    expect(result.headers?.['cache-control']).toBe('no-store');
    expect(result.headers?.['x-request-id']).toBe('Zx1AbCdEfGhIjKlMnO=');
    expect(JSON.parse(result.body)).toMatchObject({
      items: [{ mailboxId: 'work', messages: 3, lastSuccessAt: '2024-06-01T10:00:05.000Z' }],
    });
  });

  it('passes the raw query string through', async () => {
    const result = await handler(httpApiEvent('GET', '/mailboxes/work/messages', 'limit=1'));
    expect(result.statusCode).toBe(200);
    expect((JSON.parse(result.body) as { items: unknown[] }).items).toHaveLength(1);
    const bad = await handler(httpApiEvent('GET', '/mailboxes/work/messages', 'limit=1000'));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'INVALID_PARAMETER' } });
  });

  it('redirects raw downloads to the presigned link', async () => {
    const result = await handler(
      httpApiEvent('GET', `/messages/${encodeMessageRef(csvMessage)}/raw`),
    );
    expect(result.statusCode).toBe(302);
    expect(result.headers?.location).toBe(
      `https://popvault-mail.s3.eu-west-1.amazonaws.com/${csvMessage.rawKey}?X-Amz-Expires=300`,
    );
    expect(rawLinks).toEqual([csvMessage.rawKey]);
  });

  it('returns attachment bytes base64-encoded, exactly, whatever their charset', async () => {
    const result = await handler(
      httpApiEvent('GET', `/messages/${encodeMessageRef(csvMessage)}/attachments/0`),
    );
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['content-type']).toBe('text/csv');
    expect(result.isBase64Encoded).toBe(true);
    expect(Buffer.from(result.body, 'base64').equals(LATIN1_CSV)).toBe(true);
  });

  it('refuses an attachment larger than a Lambda response can carry, in JSON', async () => {
    const result = await handler(
      httpApiEvent('GET', `/messages/${encodeMessageRef(hugeMessage)}/attachments/0`),
    );
    expect(result.statusCode).toBe(422);
    expect(result.isBase64Encoded).toBe(false);
    expect(JSON.parse(result.body)).toMatchObject({ error: { code: 'RESPONSE_TOO_LARGE' } });
  });

  it('leaves authorization to API Gateway: no token needed', async () => {
    const result = await handler(httpApiEvent('GET', '/openapi.json'));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ openapi: '3.1.0' });
  });
});

describe('wiring for AWS', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('loads POPVAULT_BUCKET and POPVAULT_TABLE, naming the one that is missing', () => {
    expect(
      loadApiEnv({ POPVAULT_BUCKET: 'b', POPVAULT_TABLE: 't', POPVAULT_API_AUTH: 'iam' }),
    ).toEqual({ bucketName: 'b', tableName: 't', authorization: { kind: 'iam' } });
    expect(() => loadApiEnv({ POPVAULT_TABLE: 't' })).toThrow(ApiEnvError);
    expect(() => loadApiEnv({ POPVAULT_BUCKET: 'b', POPVAULT_TABLE: '' })).toThrow(
      /POPVAULT_TABLE is not set/,
    );
  });

  it('a function deployed without its authorization mode refuses to start rather than serve every mailbox', () => {
    const base = { POPVAULT_BUCKET: 'b', POPVAULT_TABLE: 't' };
    expect(() => loadApiEnv(base)).toThrow(/POPVAULT_API_AUTH is not set/);
    expect(() => loadApiEnv({ ...base, POPVAULT_API_AUTH: 'none' })).toThrow(
      /POPVAULT_API_AUTH is "none", not "iam" or "jwt"/,
    );
    expect(
      loadApiEnv({
        ...base,
        POPVAULT_API_AUTH: 'jwt',
        POPVAULT_JWT_MAILBOXES_CLAIM: 'https://popvault.example/mailboxes',
        POPVAULT_JWT_REQUIRED_SCOPES: 'mail.read popvault',
      }).authorization,
    ).toEqual({
      kind: 'jwt',
      mailboxesClaim: 'https://popvault.example/mailboxes',
      requiredScopes: ['mail.read', 'popvault'],
    });
    expect(loadApiEnv({ ...base, POPVAULT_API_AUTH: 'jwt' }).authorization).toEqual({
      kind: 'jwt',
      mailboxesClaim: 'popvault_mailboxes',
      requiredScopes: [],
    });
  });

  it('presigns raw links for 5 minutes, as downloads, without calling AWS', async () => {
    // Presigning is local computation: clients with made-up credentials never reach the network.
    const config = {
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    };
    const { rawLink } = awsArchive(
      { bucketName: 'popvault-mail', tableName: 'popvault-index', authorization: { kind: 'iam' } },
      { s3: new S3Client(config), dynamo: new DynamoDBClient(config) },
    );
    const url = new URL(await rawLink('raw/d29yaw/ab/abcdef.eml'));
    expect(url.hostname).toBe('popvault-mail.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/raw/d29yaw/ab/abcdef.eml');
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(RAW_LINK_EXPIRY_SECONDS));
    expect(RAW_LINK_EXPIRY_SECONDS).toBe(300);
    expect(url.searchParams.get('response-content-disposition')).toMatch(/^attachment/);
    expect(url.searchParams.get('response-cache-control')).toBe('no-store');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('handler.ts builds its handler from the environment at load, and fails clearly without it', async () => {
    vi.stubEnv('POPVAULT_BUCKET', 'popvault-mail');
    vi.stubEnv('POPVAULT_TABLE', 'popvault-index');
    vi.stubEnv('POPVAULT_API_AUTH', 'iam');
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    const loaded = await import('../../functions/query-api/handler.js');
    expect(typeof loaded.handler).toBe('function');

    vi.resetModules();
    vi.stubEnv('POPVAULT_BUCKET', '');
    await expect(import('../../functions/query-api/handler.js')).rejects.toThrow(
      /POPVAULT_BUCKET is not set/,
    );
  });
});
