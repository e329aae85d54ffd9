import { describe, expect, it } from 'vitest';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import type { RunLogger } from '../../functions/core/pull/pull-options.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { message, scripted, sha256 } from '../support/pop3-test-kit.js';
import { memoryArchive } from '../support/pull-run-fixtures.js';
import { pullDeps, scriptedPull } from '../support/pull-test-kit.js';
import type { Handler, ScriptedMessage } from '../support/scripted-pop3-server.js';

const CAPS = ['TOP', 'UIDL', 'USER', 'PIPELINING', 'SASL PLAIN'];

/** A logger that keeps what it was given, to prove what a log line does and does not carry. */
function recordingLogger(): RunLogger & { lines: Array<[string, Record<string, unknown>]> } {
  const lines: Array<[string, Record<string, unknown>]> = [];
  const keep = (message: string, attributes: Record<string, unknown> = {}): void => {
    lines.push([message, attributes]);
  };
  return { lines, info: keep, warn: keep, error: keep };
}

/** LIST answers with these sizes instead of the true ones. */
function listing(sizes: number[]): Handler {
  return async (ctx) => {
    const lines = sizes.map((size, i) => `${i + 1} ${size}`).join('\r\n');
    await ctx.session.write(`+OK\r\n${lines}\r\n.\r\n`);
  };
}

describe('the run record tells what the POP3 session was like', () => {
  it('a server substituting a notice for 8-bit mail unless UTF8 is sent: the original is archived, UTF-8 mode recorded', async () => {
    const original = message('u1', 'From: Jörg <j@example.de>\r\nSubject: Grüße\r\n\r\nHallo\r\n');
    const notice = 'Subject: Cannot display Unicode content\r\n\r\nsee attachment\r\n';
    const server = await scripted({
      capabilities: [...CAPS, 'UTF8 USER'],
      messages: [original],
      handlers: {
        UTF8: (ctx) => ctx.ok('UTF8 enabled'),
        async RETR(ctx) {
          if (ctx.session.commands.includes('UTF8')) return ctx.fallback();
          await ctx.session.write(`+OK\r\n${notice}.\r\n`);
        },
      },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.outcome).toBe('success');
    expect(run.session).toEqual({ utf8: 'active', sizeMismatches: 0, sizesSuspect: false });
    expect(a.rawStore.objects.get(rawObjectKey('mbx-1', sha256(original.body)))).toEqual(
      original.body,
    );
    expect(server.messages).toEqual([]);
  });

  it('a server that refuses UTF8 is recorded as refused and warned about; the run carries on', async () => {
    const server = await scripted({
      capabilities: [...CAPS, 'UTF8'],
      messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')],
      handlers: { UTF8: (ctx) => ctx.err('no') },
    });
    const a = memoryArchive();
    const logger = recordingLogger();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, logger }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(run.session?.utf8).toBe('refused');
    expect(logger.lines.some(([m]) => m.includes('refused it'))).toBe(true);
  });

  it('a LIST that disagrees with what RETR sends is counted, logged by number and size only, and flags the run', async () => {
    const secret = 'Subject: private matter\r\n\r\nthe body nobody may log\r\n';
    const mail: ScriptedMessage[] = [message('u1', secret), message('u2', secret.repeat(40))];
    const server = await scripted({
      capabilities: CAPS,
      messages: mail,
      // Message 1 listed right, message 2 listed at a tenth of what is sent.
      handlers: { LIST: listing([mail[0]?.body.length ?? 0, 100]) },
    });
    const a = memoryArchive();
    const logger = recordingLogger();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, logger }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(run.counts.stored).toBe(2);
    expect(run.session).toEqual({ utf8: 'not-offered', sizeMismatches: 1, sizesSuspect: true });
    const warned = logger.lines.filter(([m]) => m.includes('disagree'));
    expect(warned).toHaveLength(1);
    expect(warned[0]?.[1]).toMatchObject({ msg: 2, listedOctets: 100 });
    expect(JSON.stringify(logger.lines)).not.toContain('private matter');
  });

  it('sizes listed as the servers here list them are not mismatches: line ends counted as one octet, no final CRLF', async () => {
    const lfCounted = message('u1', 'Subject: a\r\n\r\nline one\r\nline two\r\n');
    const noFinalLineEnd = message('u2', 'Subject: b\r\n\r\nno line end at the end');
    const server = await scripted({
      capabilities: CAPS,
      messages: [lfCounted, noFinalLineEnd],
      // GNU Mailutils counts one octet per line end; Dovecot and Cyrus do not count the CRLF they
      // append to a message without a final line end.
      handlers: { LIST: listing([lfCounted.body.length - 4, noFinalLineEnd.body.length]) },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.session).toEqual({ utf8: 'not-offered', sizeMismatches: 0, sizesSuspect: false });
  });

  it('a server that rewrites a message when it first lists its UIDL (GNU Mailutils adds X-UIDL) is asked for UIDL before LIST', async () => {
    const mail = [
      message('u1', 'Subject: a\r\n\r\nx\r\n'),
      message('u2', 'Subject: b\r\n\r\ny\r\n'),
    ];
    const header = 'X-UIDL: 0123456789abcdef0123456789abcdef.1764806400.1\r\n';
    let uidlListed = false;
    const server = await scripted({
      capabilities: CAPS,
      messages: mail,
      handlers: {
        UIDL: (ctx) => {
          uidlListed = true;
          return ctx.fallback();
        },
        // Before UIDL the files have no X-UIDL yet, so LIST is short of what RETR serves after it.
        LIST: (ctx) =>
          listing(mail.map((m) => m.body.length - (uidlListed ? 0 : header.length)))(ctx),
      },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.session?.sizeMismatches).toBe(0);
  });

  it('one odd size among many is counted but does not flag the run', async () => {
    const mail = Array.from({ length: 25 }, (_, i) =>
      message(`u${i}`, `Subject: ${i}\r\n\r\nx\r\n`),
    );
    const sizes = mail.map((m) => m.body.length);
    sizes[3] = 5000;
    const server = await scripted({
      capabilities: CAPS,
      messages: mail,
      handlers: { LIST: listing(sizes) },
    });
    const a = memoryArchive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.session).toEqual({ utf8: 'not-offered', sizeMismatches: 1, sizesSuspect: false });
  });

  it('a run that never logged in has no session on its record', async () => {
    const server = await scripted({ capabilities: CAPS });
    const a = memoryArchive();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps(
        { ...a, credentials: { get: async () => ({ user: 'alice', password: 'wrong' }) } },
        a.clock,
      ),
    );
    expect(run.outcome).toBe('failed');
    expect(run.errorCode).toBe('AUTH_FAILED');
    expect(run.session).toBeNull();
  });
});
