/**
 * How a run lists a mailbox and what it tells its operator about it: UIDL is used when the server
 * has it (or says nothing of its capabilities), a mailbox without UIDL is pulled by content hash
 * under policy delete, messages are named by UIDL or else by number, a RETR the server refuses is
 * that message's failure, and the warnings name the mailbox and the numbers, never content.
 */
import { describe, expect, it } from 'vitest';
import { type PullProgress, runPull } from '../../functions/core/pull/pull-run.js';
import { message, scripted, sha256 } from '../support/pop3-test-kit.js';
import { memoryArchive, recordingLogger } from '../support/pull-run-fixtures.js';
import { pullDeps, scriptedPull, withFaults } from '../support/pull-test-kit.js';
import type { Handler, ScriptedMessage } from '../support/scripted-pop3-server.js';

function mailbox(n: number): ScriptedMessage[] {
  return Array.from({ length: n }, (_, i) => message(`u${i + 1}`, `Subject: ${i}\r\n\r\nx\r\n`));
}

const noCapa: Handler = (ctx) => ctx.err('unknown command');

function verbsOf(commands: readonly string[]): string[] {
  return commands.map((c) => c.split(' ')[0] ?? '');
}

describe('UIDL, when the server has it', () => {
  it('a server whose CAPA lacks UIDL is never sent UIDL; delete pulls it by content hash', async () => {
    const server = await scripted({ capabilities: ['USER', 'TOP'], messages: mailbox(2) });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 2, deleted: 2 } });
    expect(verbsOf(server.sessions[0]?.commands ?? [])).not.toContain('UIDL');
  });

  it('keep on a server without CAPA that answers UIDL archives each message under its UIDL', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'USER'],
      messages: mailbox(2),
      handlers: { CAPA: noCapa },
    });
    const a = memoryArchive();
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { policy: { kind: 'keep' } }),
      pullDeps(a, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 2, deleted: 0 } });
    expect([...a.index.messages.values()].map((r) => r.messageKey).sort()).toEqual(['u1', 'u2']);
  });

  it('delete on a server with neither CAPA nor UIDL still pulls everything, by content hash', async () => {
    const mail = mailbox(2);
    const server = await scripted({
      capabilities: ['USER'],
      messages: [...mail],
      handlers: { CAPA: noCapa },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 2, deleted: 2 } });
    expect(server.messages).toEqual([]);
    expect([...a.index.messages.values()].map((r) => r.messageKey).sort()).toEqual(
      mail.map((m) => `sha256:${sha256(m.body)}`).sort(),
    );
  });

  it('messages without a UIDL are not looked up in the index, and are reported by number', async () => {
    const server = await scripted({ capabilities: ['USER'], messages: mailbox(2) });
    const a = memoryArchive();
    const lookedUp: string[][] = [];
    const index = withFaults(a.index, {
      getMessages: (mailboxId: string, uidls: string[]) => {
        lookedUp.push(uidls);
        return a.index.getMessages(mailboxId, uidls);
      },
    });
    const events: PullProgress[] = [];
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ rawStore: a.rawStore, index, onProgress: (e) => events.push(e) }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(lookedUp).toEqual([[]]);
    expect(events.filter((e) => e.kind === 'retrieved').map((e) => e.messageKey)).toEqual([
      '#1',
      '#2',
    ]);
  });
});

describe('a RETR the server refuses', () => {
  it('is that message’s failure, named by its UIDL; the others are archived and deleted', async () => {
    const server = await scripted({
      messages: mailbox(3),
      handlers: {
        RETR: (ctx) => (ctx.args === '2' ? ctx.err('message vanished') : ctx.fallback()),
      },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.outcome).toBe('partial');
    expect(run.counts).toMatchObject({ retrieved: 2, stored: 2, deleted: 2, failed: 1 });
    expect(run.failures).toEqual([
      {
        messageKey: 'u2',
        errorCode: expect.any(String),
        message: expect.stringContaining('vanished'),
      },
    ]);
    expect(server.messages.map((m) => m.uid)).toEqual(['u2']);
  });
});

describe('warnings', () => {
  it('a server that lists UTF8 and refuses it is warned about, naming the mailbox', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'UTF8'],
      messages: mailbox(1),
      handlers: { UTF8: (ctx) => ctx.err('no') },
    });
    const a = memoryArchive();
    const logger = recordingLogger();
    await runPull(scriptedPull(server, a.clock.ms), pullDeps({ ...a, logger }, a.clock));
    expect(logger.lines.filter(([level]) => level === 'warn')).toEqual([
      [
        'warn',
        'the server lists UTF8 but refused it: mail with raw UTF-8 headers may be served altered',
        { mailboxId: 'mbx-1' },
      ],
    ]);
  });

  it('a server that accepts UTF8, or does not list it, is not warned about it', async () => {
    for (const utf8 of [['UTF8'], []]) {
      const server = await scripted({
        capabilities: ['UIDL', 'USER', ...utf8],
        messages: mailbox(1),
        handlers: { UTF8: (ctx) => ctx.ok('UTF8 enabled') },
      });
      const a = memoryArchive();
      const logger = recordingLogger();
      const run = await runPull(
        scriptedPull(server, a.clock.ms),
        pullDeps({ ...a, logger }, a.clock),
      );
      expect(run.session?.utf8).toBe(utf8.length > 0 ? 'active' : 'not-offered');
      expect(logger.lines.filter(([level]) => level === 'warn')).toEqual([]);
    }
  });

  it('a message that passes the size limit while it arrives is warned by number and sizes only', async () => {
    const lyingList: Handler = async (ctx) => {
      if (ctx.args !== '') return ctx.fallback();
      const lines = ctx.session.mailbox.map((_, i) => `${i + 1} 100`).join('\r\n');
      await ctx.session.write(`+OK\r\n${lines}\r\n.\r\n`);
    };
    const big = message('big', `Subject: big\r\n\r\n${'x'.repeat(78)}\r\n`.repeat(50));
    const server = await scripted({ messages: [big], handlers: { LIST: lyingList } });
    const a = memoryArchive();
    const logger = recordingLogger();
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { maxMessageBytes: 1000 }),
      pullDeps({ ...a, logger }, a.clock),
    );
    expect(run.counts).toMatchObject({ stored: 0, failed: 1 });
    const [warned] = logger.lines.filter(
      ([, m]) => m === 'message stopped at a limit while it arrived; left on the server',
    );
    expect(warned).toEqual([
      'warn',
      expect.any(String),
      {
        mailboxId: 'mbx-1',
        msg: 1,
        listedOctets: 100,
        receivedOctets: run.counts.octets,
        errorCode: run.failures[0]?.errorCode,
      },
    ]);
    expect(run.counts.octets).toBeGreaterThan(1000);
  });
});
