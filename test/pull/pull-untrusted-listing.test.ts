import { describe, expect, it } from 'vitest';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { memoryArchive } from '../support/pull-run-fixtures.js';
import { pullDeps, scriptedPull } from '../support/pull-test-kit.js';

const mail = (n: number) =>
  Array.from({ length: n }, (_, i) => message(`u${i + 1}`, `Subject: ${i + 1}\r\n\r\nx\r\n`));

describe('listings the server sends are not trusted', () => {
  it('a listing longer than the entry cap: the first entries are archived, the run says listing-capped, the rest stay', async () => {
    const server = await scripted({ messages: mail(5) });
    const a = memoryArchive();
    const options = scriptedPull(server, a.clock.ms);
    const run = await runPull(
      { ...options, server: { ...options.server, maxListingEntries: 3 } },
      pullDeps(a, a.clock),
    );
    expect(run.outcome).toBe('partial');
    expect(run.stopReason).toBe('listing-capped');
    expect(run.counts).toMatchObject({ listed: 5, stored: 3, deleted: 3, remainingOnServer: 2 });
    expect(server.messages.map((m) => m.uid)).toEqual(['u4', 'u5']);
  });

  it('one malformed UIDL line: that message stays on the server as a recorded failure, the rest is archived', async () => {
    const server = await scripted({
      messages: mail(4),
      handlers: {
        async UIDL(ctx) {
          if (ctx.args !== '') return ctx.fallback();
          await ctx.session.write('+OK\r\n1 u1\r\n2 u2\r\n3 \r\n4 u4\r\n.\r\n');
        },
      },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.outcome).toBe('partial');
    expect(run.counts).toMatchObject({ listed: 4, stored: 3, deleted: 3, failed: 1 });
    expect(run.failures).toEqual([
      expect.objectContaining({ messageKey: '#3', errorCode: 'PROTOCOL_VIOLATION' }),
    ]);
    expect(server.messages.map((m) => m.uid)).toEqual(['u3']);
  });

  it('a malformed LIST line without a message number is a failure; every well-formed message is archived', async () => {
    const server = await scripted({
      messages: mail(2),
      handlers: {
        async LIST(ctx) {
          if (ctx.args !== '') return ctx.fallback();
          const sizes = ctx.session.mailbox.map((m, i) => `${i + 1} ${m.body.length}`);
          await ctx.session.write(`+OK\r\n${sizes.join('\r\n')}\r\ngarbage here\r\n.\r\n`);
        },
      },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.counts).toMatchObject({ stored: 2, deleted: 2, failed: 1 });
    expect(run.failures[0]).toMatchObject({ messageKey: 'LIST', errorCode: 'PROTOCOL_VIOLATION' });
    expect(server.messages).toEqual([]);
  });
});
