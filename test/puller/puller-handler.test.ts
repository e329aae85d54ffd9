import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoMessageIndex } from '../../functions/adapters/aws/dynamodb-message-index.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { ScheduledEventError } from '../../functions/core/pull/pull-event.js';
import {
  createPullerHandler,
  lambdaLeaseTtlMs,
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

/** What the stack writes into POPVAULT_MAILBOX for a mailbox on the lab's Dovecot. */
function settingsOf(mailboxId: string, over: Record<string, unknown> = {}) {
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

function setup(mailboxId: string, secrets: Record<string, string>) {
  const metrics = new RecordingMetrics();
  const reader = new SecretsInMemory(secrets);
  const logged: string[] = [];
  const connections: unknown[] = [];
  const log = (message: string, attributes?: Record<string, unknown>) =>
    logged.push(`${message} ${JSON.stringify(attributes ?? {})}`);
  const handler = createPullerHandler({
    env: loadPullerEnv({
      POPVAULT_BUCKET: bucket,
      POPVAULT_TABLE: table,
      POPVAULT_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'popvault-handler-')),
      POPVAULT_MAILBOX: JSON.stringify(settingsOf(mailboxId)),
    }),
    s3: s3ClientFor(aws),
    dynamo: dynamoClientFor(aws),
    secrets: reader,
    logger: { info: log, warn: log, error: log },
    metrics,
    createParser: createMessageParser,
    connect: (options) => {
      connections.push(options);
      return Pop3Client.connect(options);
    },
  });
  return { handler, metrics, reader, logged, connections };
}

const context = { getRemainingTimeInMillis: () => 120_000 };

describe('puller Lambda handler', () => {
  it('runs a scheduled event end to end and publishes per-mailbox metrics; the secret is read once per container', async () => {
    const user = uniqueUser('handler');
    seedMailbox(lab, user, [
      Buffer.from('Subject: one\n\nbody\n'),
      Buffer.from('Subject: two\n\nbody\n'),
    ]);
    const { handler, metrics, reader, logged } = setup('h1', {
      'secret-h1': JSON.stringify({ kind: 'password', username: user, password: lab.password }),
    });
    const run = await handler({ mailboxId: 'h1' }, context);
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
    await handler({ mailboxId: 'h1' }, context);
    expect(reader.reads).toBe(1);
    expect(logged.join('\n')).not.toContain(lab.password);
    const runs = await new DynamoMessageIndex({
      client: dynamoClientFor(aws),
      tableName: table,
    }).listRuns('h1', 5);
    expect(runs).toHaveLength(2);
  });

  it('threat: a forged event (mailbox "personal" naming the work secret and another server and CA) is refused before any secret is read or connection made', async () => {
    const { handler, metrics, reader, connections, logged } = setup('personal', {
      'secret-personal': JSON.stringify({
        kind: 'password',
        username: 'me',
        password: 'personal-pw',
      }),
      'secret-work': JSON.stringify({ kind: 'password', username: 'me@work', password: 'work-pw' }),
    });
    const forged = {
      mailboxId: 'personal',
      host: '127.0.0.1',
      port: 1,
      tls: 'implicit',
      caPem: '-----BEGIN CERTIFICATE-----\nMIIBforged\n-----END CERTIFICATE-----',
      secretId: 'secret-work',
    };
    const refused = handler(forged, context);
    await expect(refused).rejects.toBeInstanceOf(ScheduledEventError);
    await expect(refused).rejects.toMatchObject({ code: 'INVALID_EVENT' });
    expect(reader.reads).toBe(0);
    expect(connections).toEqual([]);
    expect(metrics.published).toEqual([{ RejectedEvents: 1 }]);
    expect(metrics.dimensions).toEqual({ mailbox: 'personal' });
    expect(logged.join('\n')).not.toMatch(/work-pw|secret-work|forged/);
  });

  it('threat: an event naming a mailbox this function does not serve is refused and counted under its own mailbox', async () => {
    const { handler, metrics, reader, connections } = setup('h2', {});
    for (const mailboxId of ['work', 'nobody', '../h2']) {
      await expect(handler({ mailboxId }, context)).rejects.toThrow(
        /this function pulls only mailbox "h2"/,
      );
    }
    await expect(handler({}, context)).rejects.toBeInstanceOf(ScheduledEventError);
    expect(reader.reads).toBe(0);
    expect(connections).toEqual([]);
    expect(metrics.published).toHaveLength(4);
    expect(metrics.published.every((m) => m.RejectedEvents === 1)).toBe(true);
    expect(metrics.dimensions).toEqual({ mailbox: 'h2' });
  });

  it('rejected credentials fail the invocation (for the error alarm) and count a credential failure', async () => {
    const { handler, metrics } = setup('h3', {
      'secret-h3': JSON.stringify({
        kind: 'password',
        username: uniqueUser('h3'),
        password: 'wrong-password',
      }),
    });
    await expect(handler({ mailboxId: 'h3' }, context)).rejects.toBeInstanceOf(PullFailedError);
    expect(metrics.published[0]).toMatchObject({ CredentialFailures: 1 });
  });

  it('a missing environment variable names itself and how it is normally set', () => {
    expect(() => loadPullerEnv({ POPVAULT_BUCKET: 'b' })).toThrow(PullerEnvError);
    expect(() => loadPullerEnv({ POPVAULT_BUCKET: 'b' })).toThrow(/POPVAULT_TABLE.*cdk deploy/);
    expect(() => loadPullerEnv({ POPVAULT_BUCKET: 'b', POPVAULT_TABLE: 't' })).toThrow(
      /POPVAULT_MAILBOX.*cdk deploy/,
    );
  });

  it('mailbox settings edited by hand into the environment are refused at cold start, naming the setting', () => {
    const base = { POPVAULT_BUCKET: 'b', POPVAULT_TABLE: 't' };
    expect(() => loadPullerEnv({ ...base, POPVAULT_MAILBOX: '{not json' })).toThrow(
      /POPVAULT_MAILBOX is not JSON/,
    );
    expect(() =>
      loadPullerEnv({ ...base, POPVAULT_MAILBOX: JSON.stringify(settingsOf('x', { port: 0 })) }),
    ).toThrow(/POPVAULT_MAILBOX: mailbox setting "port".*popvault\.config\.json/);
    expect(
      loadPullerEnv({ ...base, POPVAULT_MAILBOX: JSON.stringify(settingsOf('x')) }).mailbox,
    ).toMatchObject({ mailboxId: 'x', secretId: 'secret-x', port: lab.tlsPort });
  });
});

describe('the lease of a Lambda run', () => {
  it('lasts two minutes unrenewed, or the invocation’s whole time when the function’s timeout is shorter', () => {
    expect(lambdaLeaseTtlMs(900_000)).toBe(120_000);
    expect(lambdaLeaseTtlMs(60_000)).toBe(60_000);
    expect(lambdaLeaseTtlMs(0)).toBe(1000);
  });
});
