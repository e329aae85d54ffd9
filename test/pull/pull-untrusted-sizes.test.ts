import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { message, scripted, sha256 } from '../support/pop3-test-kit.js';
import { memoryArchive } from '../support/pull-run-fixtures.js';
import { pullDeps, scriptedPull } from '../support/pull-test-kit.js';
import type { Handler, ScriptedMessage } from '../support/scripted-pop3-server.js';

const MiB = 1024 * 1024;

function big(uid: string, octets: number): ScriptedMessage {
  const line = `${'x'.repeat(76)}\r\n`;
  return message(uid, `Subject: big\r\n\r\n${line.repeat(Math.ceil(octets / line.length))}`);
}

/** LIST that claims every message is 100 octets. */
const lyingList: Handler = async (ctx) => {
  if (ctx.args !== '') return ctx.fallback();
  const lines = ctx.session.mailbox.map((_, i) => `${i + 1} 100`).join('\r\n');
  await ctx.session.write(`+OK\r\n${lines}\r\n.\r\n`);
};

describe('the size limit counts the octets received, not what LIST claims', () => {
  it('a server that lists 100 octets and sends 3 MiB under a 1 MiB limit: nothing of it is stored, it stays, the others are archived and deleted', async () => {
    const small = message('s1', 'Subject: small\r\n\r\nx\r\n');
    const liar = big('liar', 3 * MiB);
    const after = message('s2', 'Subject: after\r\n\r\ny\r\n');
    const server = await scripted({
      messages: [small, liar, after],
      handlers: { LIST: lyingList },
    });
    const a = memoryArchive();
    const deps = pullDeps(a, a.clock);
    const run = await runPull(
      { ...scriptedPull(server, a.clock.ms), maxMessageBytes: MiB, oversize: 'skip' },
      deps,
    );
    expect(run.outcome).toBe('partial');
    expect(run.counts).toMatchObject({ stored: 2, deleted: 2, failed: 1 });
    expect(run.failures).toEqual([
      expect.objectContaining({ messageKey: 'liar', errorCode: 'MESSAGE_TOO_LARGE' }),
    ]);
    expect(a.rawStore.objects.has(rawObjectKey('mbx-1', sha256(liar.body)))).toBe(false);
    expect(server.messages.map((m) => m.uid)).toEqual(['liar']);
    expect(readdirSync(deps.spoolDirectory)).toEqual([]);
  });

  it('a server that keeps sending past the drain allowance: the session is dropped without QUIT and nothing is deleted', async () => {
    const small = message('s1', 'Subject: small\r\n\r\nx\r\n');
    const liar = big('liar', 3 * MiB);
    const server = await scripted({ messages: [small, liar], handlers: { LIST: lyingList } });
    const a = memoryArchive();
    const run = await runPull(
      {
        ...scriptedPull(server, a.clock.ms),
        maxMessageBytes: 256 * 1024,
        oversize: 'skip',
        overLimitDrainOctets: 256 * 1024,
      },
      pullDeps(a, a.clock),
    );
    expect(run.outcome).toBe('partial');
    expect(run.stopReason).toBe('message-over-limit');
    expect(run.counts).toMatchObject({ stored: 1, deleted: 0, remainingOnServer: 2 });
    expect(server.messages.map((m) => m.uid)).toEqual(['s1', 'liar']);
    expect(server.sessions[0]?.commands).not.toContain('QUIT');
  });

  it('the spool disk cap: a message that would pass it stays on the server and leaves no spool file', async () => {
    const huge = big('huge', 12 * MiB);
    const small = message('s1', 'Subject: small\r\n\r\nx\r\n');
    const server = await scripted({ messages: [huge, small] });
    const a = memoryArchive();
    const deps = pullDeps(a, a.clock);
    const run = await runPull(
      { ...scriptedPull(server, a.clock.ms), oversize: 'store', spoolDiskOctets: 6 * MiB },
      deps,
    );
    expect(run.counts).toMatchObject({ stored: 1, deleted: 1, failed: 1 });
    expect(run.failures[0]).toMatchObject({ messageKey: 'huge', errorCode: 'SPOOL_FULL' });
    expect(server.messages.map((m) => m.uid)).toEqual(['huge']);
    expect(readdirSync(deps.spoolDirectory)).toEqual([]);
  });

  it('the spool disk cap is a share, not a total: each spool file gives its octets back once persisted', async () => {
    const mail = [big('a', 5 * MiB), big('b', 5 * MiB), big('c', 5 * MiB)];
    const server = await scripted({ messages: [...mail] });
    const a = memoryArchive();
    const run = await runPull(
      {
        ...scriptedPull(server, a.clock.ms),
        oversize: 'store',
        spoolDiskOctets: 12 * MiB,
        persistConcurrency: 1,
      },
      pullDeps(a, a.clock),
    );
    expect(run.counts).toMatchObject({ stored: 3, failed: 0, deleted: 3 });
  });

  it('the per-run byte cap counts received octets too: a message that lied its way into the plan is stopped', async () => {
    const first = message('s1', `Subject: first\r\n\r\n${'a'.repeat(1000)}\r\n`);
    const liar = big('liar', 2 * MiB);
    const server = await scripted({ messages: [first, liar], handlers: { LIST: lyingList } });
    const a = memoryArchive();
    const run = await runPull(
      { ...scriptedPull(server, a.clock.ms), maxBytesPerRun: 64 * 1024 },
      pullDeps(a, a.clock),
    );
    expect(run.counts).toMatchObject({ stored: 1, failed: 1 });
    expect(run.failures[0]).toMatchObject({ messageKey: 'liar', errorCode: 'MESSAGE_TOO_LARGE' });
    expect(server.messages.map((m) => m.uid)).toEqual(['liar']);
  });
});
