/**
 * Real messages, mutated at random (bytes flipped, inserted, removed, cut short, parts repeated),
 * through the whole archive path with the real parser: the raw bytes are always stored exactly,
 * an index record is always written, and the record always fits a DynamoDB item. Seeded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import { MAX_METADATA_JSON_OCTETS } from '../../functions/core/message/message-limits.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { scripted, sha256 } from '../support/pop3-test-kit.js';
import { pullDeps, scriptedPull, TestClock } from '../support/pull-test-kit.js';

const SEED = 1939;
const DYNAMODB_ITEM_OCTETS = 400 * 1024;
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'mail');
const fixtures = readdirSync(FIXTURES)
  .filter((name) => name.endsWith('.eml'))
  .map((name) => readFileSync(join(FIXTURES, name)));

type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'remove'; at: number; length: number }
  | { kind: 'cut'; at: number }
  | { kind: 'repeat'; at: number; length: number; times: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(
        ...[
          '\r\n--b\r\n',
          '\r\n\r\n',
          '=?utf-8?B?',
          'Content-Type: multipart/mixed; boundary=x\r\n',
          '\r\n.\r\n',
          '\u0000',
        ].map((s) => new Uint8Array(Buffer.from(s))),
      ),
    ),
  }),
  fc.record({
    kind: fc.constant('remove' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 200 }),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 300 }),
    times: fc.integer({ min: 2, max: 400 }),
  }),
);

function mutate(original: Buffer, changes: Mutation[]): Buffer {
  let data = original;
  for (const m of changes) {
    const at = data.length === 0 ? 0 : m.at % (data.length + 1);
    if (m.kind === 'flip' && at < data.length) {
      data = Buffer.from(data);
      data[at] = m.byte;
    } else if (m.kind === 'insert') {
      data = Buffer.concat([data.subarray(0, at), m.bytes, data.subarray(at)]);
    } else if (m.kind === 'remove') {
      data = Buffer.concat([data.subarray(0, at), data.subarray(at + m.length)]);
    } else if (m.kind === 'cut') {
      data = data.subarray(0, at);
    } else if (m.kind === 'repeat') {
      const piece = data.subarray(at, at + m.length);
      data = Buffer.concat([
        data.subarray(0, at),
        ...Array.from({ length: m.times }, () => piece),
        data.subarray(at),
      ]);
    }
  }
  // What a POP3 server can serve: CRLF line ends, and a final one (servers append it).
  const text = data.toString('latin1').replace(/\r?\n/g, '\r\n');
  return Buffer.from(text.endsWith('\r\n') ? text : `${text}\r\n`, 'latin1');
}

describe('mutated real mail through the archive path', () => {
  it('is always stored byte for byte and indexed, and every record fits a DynamoDB item', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: fixtures.length - 1 }),
            fc.array(mutation, { minLength: 1, maxLength: 4 }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        async (picks) => {
          const messages = picks.map(([i, changes], n) => ({
            uid: `m${n}`,
            body: mutate(fixtures[i] as Buffer, changes),
          }));
          const server = await scripted({ messages: [...messages] });
          const a = {
            rawStore: new MemoryRawStore(),
            index: new MemoryMessageIndex(),
            clock: new TestClock(),
          };
          try {
            const run = await runPull(
              scriptedPull(server, a.clock.ms),
              pullDeps({ ...a, createParser: createMessageParser }, a.clock),
            );
            expect(run.outcome).toBe('success');
            for (const m of messages) {
              expect(a.rawStore.objects.get(rawObjectKey('mbx-1', sha256(m.body)))).toEqual(m.body);
            }
            const records = [...a.index.messages.values()];
            expect(records).toHaveLength(messages.length);
            for (const record of records) {
              const octets = Buffer.byteLength(JSON.stringify(record));
              expect(octets).toBeLessThan(DYNAMODB_ITEM_OCTETS);
              expect(octets).toBeLessThan(MAX_METADATA_JSON_OCTETS + 4096);
            }
            expect(server.messages).toEqual([]);
          } finally {
            await server.close();
          }
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });
});
