/**
 * The invariant, fault by fault: after any failure, nothing that left the server is missing from the
 * archive, and a clean run then leaves the server empty with exactly one raw object and one record per
 * message. Each case runs on the in-memory double and on the production adapters over s3rver and
 * DynamoDB Local; faults are injected through the POP3 server script and through the ports.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { DynamoMessageIndex } from '../../functions/adapters/aws/dynamodb-message-index.js';
import { S3RawStore } from '../../functions/adapters/aws/s3-raw-store.js';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import type {
  MessageIndex,
  MessageRecord,
  RawPutInput,
  RawStore,
} from '../../functions/core/archive/ports.js';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  listAllKeys,
  s3ClientFor,
} from '../support/aws-clients.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { collect, message, scripted, sha256 } from '../support/pop3-test-kit.js';
import { pullDeps, scriptedPull, TestClock, withFaults } from '../support/pull-test-kit.js';
import type { ScriptedMessage, ScriptedServer } from '../support/scripted-pop3-server.js';

interface ArchiveUnderTest {
  mailboxId: string;
  rawStore: RawStore;
  index: MessageIndex;
  clock: TestClock;
  /** Raw objects of this mailbox: key to bytes. */
  objects(): Promise<Map<string, Buffer>>;
  records(): Promise<MessageRecord[]>;
}

function memoryArchive(): ArchiveUnderTest {
  const rawStore = new MemoryRawStore();
  const index = new MemoryMessageIndex();
  return {
    mailboxId: 'mbx-1',
    rawStore,
    index,
    clock: new TestClock(),
    objects: async () => new Map(rawStore.objects),
    records: async () => [...index.messages.values()],
  };
}

const aws = inject('aws');
let shared: Promise<{ bucket: string; table: string }> | null = null;

async function emulatorArchive(): Promise<ArchiveUnderTest> {
  const s3 = s3ClientFor(aws);
  const dynamo = dynamoClientFor(aws);
  shared ??= (async () => ({
    bucket: await createTestBucket(s3),
    table: await createTestTable(dynamo),
  }))();
  const { bucket, table } = await shared;
  // One bucket and table per file; each test its own mailbox, so tests cannot see each other.
  const mailboxId = `fault-${randomBytes(6).toString('hex')}`;
  const rawStore = new S3RawStore({ client: s3, bucket });
  const index = new DynamoMessageIndex({ client: dynamo, tableName: table });
  const prefix = rawObjectKey(mailboxId, '0'.repeat(64)).split('/').slice(0, 2).join('/');
  return {
    mailboxId,
    rawStore,
    index,
    clock: new TestClock(),
    objects: async () => {
      const keys = (await listAllKeys(s3, bucket)).filter((k) => k.startsWith(`${prefix}/`));
      return new Map(
        await Promise.all(
          keys.map(async (k) => [k, await collect(await rawStore.get(k))] as const),
        ),
      );
    },
    records: async () => (await index.listMessages(mailboxId, { limit: 1000 })).items,
  };
}

function corpus(n: number): ScriptedMessage[] {
  return Array.from({ length: n }, (_, i) =>
    message(`m${i + 1}`, `Subject: m ${i + 1}\r\n\r\n${'body '.repeat(i * 50)}\r\n`),
  );
}

/** Exactly one raw object (byte-identical) and one record per message. */
async function expectHoldsExactly(a: ArchiveUnderTest, messages: ScriptedMessage[]): Promise<void> {
  const objects = await a.objects();
  expect(objects.size).toBe(new Set(messages.map((m) => sha256(m.body))).size);
  for (const m of messages) {
    expect(objects.get(rawObjectKey(a.mailboxId, sha256(m.body)))?.equals(m.body)).toBe(true);
  }
  expect(await a.records()).toHaveLength(messages.length);
}

/** Every message gone from the server is in the archive, bytes and record. */
async function expectNothingLost(
  server: ScriptedServer,
  original: ScriptedMessage[],
  a: ArchiveUnderTest,
): Promise<void> {
  const onServer = new Set(server.messages.map((m) => m.uid));
  const objects = await a.objects();
  const records = await a.records();
  for (const m of original) {
    if (onServer.has(m.uid)) continue;
    expect(
      objects.has(rawObjectKey(a.mailboxId, sha256(m.body))),
      `${m.uid} left the server unarchived`,
    ).toBe(true);
    expect(
      records.some((r) => r.sha256 === sha256(m.body)),
      `${m.uid} left the server unindexed`,
    ).toBe(true);
  }
}

type Fault = {
  name: string;
  handlers?: Parameters<typeof scripted>[0] extends infer O
    ? O extends { handlers?: infer H }
      ? H
      : never
    : never;
  storeFails?: (input: RawPutInput) => boolean;
  indexFails?: (key: string) => boolean;
  expect: { outcome: string; errorCode: string | null };
  failed?: number;
};

const faults: Fault[] = [
  {
    name: 'the connection killed right after the greeting',
    expect: { outcome: 'retry-later', errorCode: 'UNEXPECTED_EOF' },
    handlers: {
      CAPA(ctx) {
        ctx.session.destroy();
      },
    },
  },
  {
    name: 'the connection killed after LIST',
    expect: { outcome: 'retry-later', errorCode: 'UNEXPECTED_EOF' },
    handlers: {
      async UIDL(ctx) {
        ctx.session.destroy();
      },
    },
  },
  {
    name: 'the connection killed mid-RETR of message 3',
    expect: { outcome: 'retry-later', errorCode: 'UNEXPECTED_EOF' },
    handlers: {
      async RETR(ctx) {
        if (ctx.args !== '3') return ctx.fallback();
        await ctx.session.write('+OK\r\nSubject: m 3\r\n\r\nbody bo');
        ctx.session.destroy();
      },
    },
  },
  {
    name: 'the connection killed after some DELEs, before QUIT',
    expect: { outcome: 'retry-later', errorCode: 'UNEXPECTED_EOF' },
    handlers: {
      async DELE(ctx) {
        if (ctx.session.deleted.size >= 2) {
          ctx.session.destroy();
          return;
        }
        await ctx.fallback();
      },
    },
  },
  {
    name: 'QUIT answered -ERR',
    expect: { outcome: 'retry-later', errorCode: 'SYS_TEMP' },
    handlers: {
      async QUIT(ctx) {
        await ctx.session.writeLine('-ERR [SYS/TEMP] could not expunge');
        ctx.session.end();
      },
    },
  },
  {
    name: 'QUIT lost (the server commits, the reply never arrives)',
    expect: { outcome: 'retry-later', errorCode: 'UNEXPECTED_EOF' },
    handlers: {
      QUIT(ctx) {
        // Commit as the server would (RFC 1939 UPDATE state), then lose the connection before "+OK".
        for (const n of ctx.session.deleted) {
          const gone = ctx.session.mailbox[n - 1];
          const at = gone ? ctx.server.messages.indexOf(gone) : -1;
          if (gone && at >= 0) {
            ctx.server.messages.splice(at, 1);
            (ctx.server.expunged as string[]).push(gone.uid);
          }
        }
        ctx.session.destroy();
      },
    },
  },
  {
    name: 'S3 failing for two messages',
    storeFails: (input) => input.octets > 300 && input.octets < 800,
    expect: { outcome: 'partial', errorCode: null },
    failed: 2,
  },
  {
    name: 'the index failing for one message (raw bytes stored, record not)',
    indexFails: (key) => key === 'm4',
    expect: { outcome: 'partial', errorCode: null },
    failed: 1,
  },
];

for (const [kind, makeArchive] of [
  ['in-memory ports', async () => memoryArchive()],
  ['S3 + DynamoDB adapters on the emulators', emulatorArchive],
] as const) {
  describe(`fault matrix on ${kind}`, () => {
    for (const fault of faults) {
      it(`${fault.name}: nothing unarchived is deleted; a clean run then empties the server, once each`, async () => {
        const mail = corpus(6);
        const server = await scripted({
          messages: [...mail],
          ...(fault.handlers ? { handlers: fault.handlers } : {}),
        });
        const a = await makeArchive();
        const store = a.rawStore;
        const index = a.index;
        const faultyStore = withFaults(store, {
          async put(input: RawPutInput) {
            if (fault.storeFails?.(input)) {
              throw new ArchiveError('STORE_UNAVAILABLE', 'S3 is having a moment');
            }
            return store.put(input);
          },
        });
        const faultyIndex = withFaults(index, {
          async putMessage(record: MessageRecord) {
            if (fault.indexFails?.(record.messageKey)) {
              throw new ArchiveError('STORE_UNAVAILABLE', 'throttled');
            }
            return index.putMessage(record);
          },
        });
        const faulty = await runPull(
          scriptedPull(server, a.clock.ms, { mailboxId: a.mailboxId }),
          pullDeps({ rawStore: faultyStore, index: faultyIndex }, a.clock),
        );
        // The fault really happened, where it was meant to.
        expect({ outcome: faulty.outcome, errorCode: faulty.errorCode }).toEqual(fault.expect);
        expect(faulty.counts.failed).toBe(fault.failed ?? 0);
        await expectNothingLost(server, mail, a);

        // The fault is gone; a clean run must finish the job.
        const clean = await scripted({ messages: [...server.messages] });
        const run = await runPull(
          scriptedPull(clean, a.clock.ms, { mailboxId: a.mailboxId }),
          pullDeps({ rawStore: store, index }, a.clock),
        );
        expect(run.outcome).toBe('success');
        expect(clean.messages).toEqual([]);
        await expectHoldsExactly(a, mail);
      });
    }

    it('a systemic storage failure (access denied) stops the run; nothing is deleted', async () => {
      const mail = corpus(4);
      const server = await scripted({ messages: [...mail] });
      const a = await makeArchive();
      const denied = withFaults(a.rawStore, {
        async put() {
          throw new ArchiveError('STORE_ACCESS_DENIED', 'Access Denied');
        },
      });
      const run = await runPull(
        scriptedPull(server, a.clock.ms, { mailboxId: a.mailboxId }),
        pullDeps({ rawStore: denied, index: a.index }, a.clock),
      );
      expect(run).toMatchObject({ outcome: 'failed', errorCode: 'STORE_ACCESS_DENIED' });
      expect(server.messages).toHaveLength(4);
      expect(server.sessions[0]?.commands.some((c) => c.startsWith('DELE'))).toBe(false);
    });
  });
}
