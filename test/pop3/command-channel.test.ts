/**
 * The command channel on its own, over a Duplex that records what the client writes and lets the
 * test push what the server says: the deadline, the command length limit, a SASL continuation
 * where a plain reply belongs, and how a failure that is not a Pop3Error is reported.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommandChannel } from '../../functions/core/pop3/command-channel.js';
import { Pop3Error, Pop3UsageError } from '../../functions/core/pop3/errors.js';
import { MAX_COMMAND_LINE_OCTETS } from '../../functions/core/pop3/limits.js';
import { expectPop3Error } from '../support/pop3-test-kit.js';

function wire(): { socket: Socket; sent: string[]; reply(text: string): void } {
  const sent: string[] = [];
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      sent.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { socket: duplex as unknown as Socket, sent, reply: (text) => duplex.push(text) };
}

function failureOf(channel: CommandChannel): unknown {
  try {
    channel.assertUsable();
    return undefined;
  } catch (err) {
    return err;
  }
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('deadline', () => {
  it('a deadline due this very millisecond fails the session at once, before anything is sent', () => {
    const now = Date.parse('2026-01-02T03:04:05.000Z');
    vi.spyOn(Date, 'now').mockReturnValue(now);
    const channel = new CommandChannel({ idleTimeoutMs: 1_000 });
    channel.armDeadline(now);
    const failure = failureOf(channel);
    expect(failure).toBeInstanceOf(Pop3Error);
    expect(failure).toMatchObject({ code: 'TIMEOUT', phase: 'deadline' });
    expect((failure as Error).message).toBe(
      'the session deadline 2026-01-02T03:04:05.000Z passed; the connection was dropped without QUIT, so nothing was deleted',
    );
  });

  it('a session shut down before its deadline leaves no deadline timer behind', () => {
    vi.useFakeTimers();
    const channel = new CommandChannel({ idleTimeoutMs: 1_000 });
    channel.armDeadline(Date.now() + 60_000);
    expect(vi.getTimerCount()).toBe(1);
    channel.shutdown(new Pop3UsageError('SESSION_CLOSED', 'closed'));
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('command length', () => {
  it('a command of exactly the RFC 2449 limit, CRLF included, is sent; one octet more is refused', () => {
    const { socket, sent } = wire();
    const channel = new CommandChannel({ idleTimeoutMs: 1_000 });
    channel.attach(socket);
    const fits = `USER ${'u'.repeat(MAX_COMMAND_LINE_OCTETS - 7)}`;
    channel.writeLine(fits, 'USER ***', MAX_COMMAND_LINE_OCTETS);
    expect(sent).toEqual([`${fits}\r\n`]);
    let refused: unknown;
    try {
      channel.writeLine(`${fits}u`, 'USER ***', MAX_COMMAND_LINE_OCTETS);
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((refused as Error).message).toBe(
      `the USER command is ${MAX_COMMAND_LINE_OCTETS + 1} octets, over the ${MAX_COMMAND_LINE_OCTETS}-octet limit (RFC 2449 s.4)`,
    );
    expect(sent).toHaveLength(1);
  });
});

describe('replies', () => {
  it('a SASL continuation answering a plain command is a PROTOCOL_VIOLATION naming the command', async () => {
    const { socket, reply } = wire();
    const channel = new CommandChannel({ idleTimeoutMs: 1_000 });
    channel.attach(socket);
    const parse = vi.fn(() => 'parsed');
    const result = channel.simple(
      { verb: 'AUTH', line: 'AUTH PLAIN', allowContinuation: true },
      parse,
    );
    reply('+ \r\n');
    const err = await expectPop3Error(result, 'PROTOCOL_VIOLATION');
    expect(err.message).toBe('unexpected SASL continuation after AUTH');
    expect(parse).not.toHaveBeenCalled();
  });

  it('a failure that is not a Pop3Error becomes a PROTOCOL_VIOLATION keeping it as the cause', () => {
    const channel = new CommandChannel({ idleTimeoutMs: 1_000 });
    const cause = new Error('boom');
    const failure = channel.fail(cause);
    expect(failure).toMatchObject({ code: 'PROTOCOL_VIOLATION', cause });
    expect(failure.message).toBe('POP3 session failed: Error: boom');
    expect(failureOf(channel)).toBe(failure);
  });

  it('a later failure hands its caller the first one, and the abort signal carries the first one too', () => {
    const channel = new CommandChannel({ idleTimeoutMs: 1_000 });
    const first = new Pop3UsageError('INVALID_ARGUMENT', 'first');
    expect(channel.fail(first)).toBe(first);
    expect(channel.fail(new Pop3UsageError('INVALID_ARGUMENT', 'second'))).toBe(first);
    expect(channel.failed.aborted).toBe(true);
    expect(channel.failed.reason).toBe(first);
  });
});
