/**
 * Random and mutated server replies to every client command: whatever a server sends, the client
 * ends each command with a value or a typed Pop3Error within its timeout, and never crashes the
 * process. Seeded, so a failure replays.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { Pop3Error } from '../../functions/core/pop3/errors.js';
import { collect, message, scripted, scriptedOptions } from '../support/pop3-test-kit.js';
import type { Handler } from '../support/scripted-pop3-server.js';

const SEED = 20261204;
const IDLE_MS = 150;

/** Pieces replies are made of: valid ones, near-misses, and noise. */
const piece = fc.oneof(
  fc.constantFrom(
    '+OK',
    '+OK 2 320',
    '-ERR',
    '-ERR [IN-USE] busy',
    '-ERR [SYS/TEMP]',
    '+ ',
    '.',
    '..',
    '1 100',
    '2 u2',
    '1 ',
    ' 1 x',
    '99999999999999999999 1',
    'UIDL',
    'SASL PLAIN',
    '',
    '\u0000',
    '+OK\r\n.\r\n',
  ),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);
const separator = fc.constantFrom('\r\n', '\n', '\r', '', ' ');
const reply = fc
  .array(fc.tuple(piece, separator), { minLength: 0, maxLength: 8 })
  .map((parts) => parts.map(([p, s]) => p + s).join(''));
/** What the server does after its reply: nothing more, close, or stall. */
const ending = fc.constantFrom('stay', 'close', 'reset');

function replying(text: string, how: string): Handler {
  return async (ctx) => {
    await ctx.session.write(Buffer.from(text, 'latin1'));
    if (how === 'close') {
      await ctx.session.flushed();
      ctx.session.end();
    } else if (how === 'reset') {
      await ctx.session.flushed();
      ctx.session.destroy();
    }
  };
}

/** Runs `use` and checks the outcome: a result, or a Pop3Error; never anything else. */
async function settles(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof Pop3Error)) throw error;
    expect(typeof error.code).toBe('string');
  }
}

const COMMANDS: Record<string, (client: Pop3Client) => Promise<unknown>> = {
  STAT: (c) => c.stat(),
  LIST: (c) => c.list(),
  UIDL: (c) => c.uidListing(),
  RETR: async (c) => collect(await c.retr(1)),
  TOP: async (c) => collect(await c.top(1, 0)),
  DELE: (c) => c.dele(1),
  NOOP: (c) => c.noop(),
  QUIT: (c) => c.quit(),
};

describe('whatever a server replies, the client ends with a value or a typed error, in time', () => {
  for (const [verb, use] of Object.entries(COMMANDS)) {
    it(`${verb}`, async () => {
      await fc.assert(
        fc.asyncProperty(reply, ending, async (text, how) => {
          const server = await scripted({
            messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')],
            handlers: { [verb]: replying(text, how) },
          });
          const client = await Pop3Client.connect(
            scriptedOptions(server, { idleTimeoutMs: IDLE_MS }),
          ).catch(async (error: unknown) => {
            // The session set-up is not what this property is about, and on a loaded machine
            // its ordinary replies can take longer than the short idle timeout the fuzzed
            // command needs. Such a sample is discarded, not passed: fast-check fails the
            // property if too many are.
            await server.close();
            if (error instanceof Pop3Error && error.code === 'TIMEOUT') return null;
            throw error;
          });
          fc.pre(client !== null);
          try {
            await settles(() => use(client));
          } finally {
            client.close();
            await server.close();
          }
        }),
        { seed: SEED, numRuns: 25 },
      );
    });
  }

  for (const stage of ['greeting', 'CAPA', 'USER', 'PASS'] as const) {
    it(`connect, with the ${stage} reply fuzzed`, async () => {
      await fc.assert(
        fc.asyncProperty(reply, ending, async (text, how) => {
          const server = await scripted(
            stage === 'greeting'
              ? { greeting: text.replace(/[\r\n]+$/, '') }
              : { handlers: { [stage]: replying(text, how) } },
          );
          try {
            await settles(async () =>
              (
                await Pop3Client.connect(
                  scriptedOptions(server, {
                    idleTimeoutMs: IDLE_MS,
                    greetingTimeoutMs: IDLE_MS,
                    credentials: { user: 'alice', password: 'wonderland', method: 'user' },
                  }),
                )
              ).close(),
            );
          } finally {
            await server.close();
          }
        }),
        { seed: SEED, numRuns: 20 },
      );
    });
  }
});
