import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoMessageIndex } from '../../functions/core/archive/dynamodb-message-index.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { PullEventError } from '../../functions/core/pull/pull-event.js';
import {
  createPullerHandler,
  PullFailedError,
  type RunMetrics,
} from '../../functions/puller/create-puller-handler.js';
import { loadPullerEnv, PullerEnvError } from '../../functions/puller/puller-env.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../support/aws-clients.js';
import { seedMailbox, uniqueUser } from '../support/dovecot.js';

const lab = inject('dovecot');
const aws = inject('aws');

class RecordingMetrics implements RunMetrics {
  readonly published: Array<Record<string, number>> = [];
  #pending: Record<string, number> = {};
  dimensions: Record<string, string> = {};
  addDimension(name: string, value: string): void {
    this.dimensions[name] = value;
  }
  addMetric(name: string, _unit: string, value: number): void {
    this.#pending[name] = value;
  }
  publishStoredMetrics(): void {
    this.published.push(this.#pending);
    this.#pending = {};
  }
}

/** Our own port (the one Secrets Manager call), served from memory: no AWS client is mocked. */
class SecretsInMemory {
  reads = 0;
  constructor(readonly values: Record<string, string>) {}
  async getSecretString(id: string): Promise<string> {
    this.reads += 1;
    const value = this.values[id];
    if (value === undefined)
      throw Object.assign(new Error(`no secret ${id}`), { name: 'ResourceNotFoundException' });
    return value;
  }
}

let bucket: string;
let table: string;

beforeAll(async () => {
  bucket = await createTestBucket(s3ClientFor(aws));
  table = await createTestTable(dynamoClientFor(aws));
});

function setup(secrets: Record<string, string>) {
  const metrics = new RecordingMetrics();
  const reader = new SecretsInMemory(secrets);
  const logged: string[] = [];
  const log = (message: string, attributes?: Record<string, unknown>) =>
    logged.push(`${message} ${JSON.stringify(attributes ?? {})}`);
  const handler = createPullerHandler({
    env: loadPullerEnv({
      POPVAULT_BUCKET: bucket,
      POPVAULT_TABLE: table,
      POPVAULT_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'popvault-handler-')),
    }),
    s3: s3ClientFor(aws),
    dynamo: dynamoClientFor(aws),
    secrets: reader,
    logger: { info: log, warn: log, error: log },
    metrics,
    createParser: createMessageParser,
  });
  return { handler, metrics, reader, logged };
}

const context = { getRemainingTimeInMillis: () => 120_000 };

function event(mailboxId: string, over: Record<string, unknown> = {}) {
  return {
    mailboxId,
    host: lab.host,
    port: lab.tlsPort,
    tls: 'implicit',
    caPem: lab.caPem,
    secretId: `secret-${mailboxId}`,
    ...over,
  };
}

describe('puller Lambda handler', () => {
  it('runs a scheduled event end to end and publishes per-mailbox metrics; the secret is read once per container', async () => {
    const user = uniqueUser('handler');
    seedMailbox(lab, user, [
      Buffer.from('Subject: one\n\nbody\n'),
      Buffer.from('Subject: two\n\nbody\n'),
    ]);
    const { handler, metrics, reader, logged } = setup({
      'secret-h1': JSON.stringify({ kind: 'password', username: user, password: lab.password }),
    });
    const run = await handler(event('h1'), context);
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 2, deleted: 2 } });
    expect(metrics.dimensions).toEqual({ mailbox: 'h1' });
    expect(metrics.published[0]).toMatchObject({
      MessagesStored: 2,
      MessagesDeleted: 2,
      SuccessfulRuns: 1,
      ListSizeMismatches: 0,
    });
    expect(metrics.published[0]).not.toHaveProperty('SizesSuspectRuns');
    expect(run.session).toEqual({ utf8: 'not-offered', sizeMismatches: 0, sizesSuspect: false });
    await handler(event('h1'), context);
    expect(reader.reads).toBe(1);
    expect(logged.join('\n')).not.toContain(lab.password);
    const runs = await new DynamoMessageIndex({
      client: dynamoClientFor(aws),
      tableName: table,
    }).listRuns('h1', 5);
    expect(runs).toHaveLength(2);
  });

  it('a bad event is rejected with the field named, before anything connects', async () => {
    const { handler } = setup({});
    await expect(handler(event('h2', { port: 99999 }), context)).rejects.toThrow(PullEventError);
    await expect(handler(event('h2', { port: 99999 }), context)).rejects.toThrow(/"port"/);
  });

  it('rejected credentials fail the invocation (for the error alarm) and count a credential failure', async () => {
    const { handler, metrics } = setup({
      'secret-h3': JSON.stringify({
        kind: 'password',
        username: uniqueUser('h3'),
        password: 'wrong-password',
      }),
    });
    await expect(handler(event('h3'), context)).rejects.toBeInstanceOf(PullFailedError);
    expect(metrics.published[0]).toMatchObject({ CredentialFailures: 1 });
  });

  it('a missing environment variable names itself and how it is normally set', () => {
    expect(() => loadPullerEnv({ POPVAULT_BUCKET: 'b' })).toThrow(PullerEnvError);
    expect(() => loadPullerEnv({ POPVAULT_BUCKET: 'b' })).toThrow(/POPVAULT_TABLE.*cdk deploy/);
  });
});
