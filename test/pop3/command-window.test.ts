import { describe, expect, it } from 'vitest';
import { CommandWindow } from '../../functions/core/pop3/command-window.js';
import { Pop3Error } from '../../functions/core/pop3/errors.js';
import { connect, message, scripted, scriptedOptions } from '../support/pop3-test-kit.js';

/** Most commands sent and not yet answered at any moment, read from the client's own trace. */
function outstandingCounter() {
  let outstanding = 0;
  let most = 0;
  return {
    trace: (direction: 'send' | 'receive', line: string) => {
      // Only status lines are traced on receive; each ends one command.
      if (direction === 'send') most = Math.max(most, ++outstanding);
      else if (/^[+-]/.test(line)) outstanding -= 1;
    },
    most: () => most,
    reset: () => {
      outstanding = 0;
      most = 0;
    },
  };
}

describe('the command window bounds what is in flight, whatever mix of commands is sent at once', () => {
  const mail = Array.from({ length: 6 }, (_, i) =>
    message(`u${i + 1}`, `Subject: ${i}\r\n\r\nx\r\n`),
  );

  it('with PIPELINING and a window of 2: list, uidl and six DELEs sent at once never have 3 unanswered', async () => {
    const server = await scripted({ messages: mail });
    const counter = outstandingCounter();
    const client = await connect(
      scriptedOptions(server, { pipelineWindow: 2, trace: counter.trace }),
    );
    counter.reset();
    await Promise.all([
      client.list(),
      client.uidl(),
      ...mail.map((_, i) => client.dele(i + 1)),
      client.noop(),
    ]);
    expect(counter.most()).toBe(2);
    await client.quit();
  });

  it('without PIPELINING advertised: one command at a time, however many are issued', async () => {
    const server = await scripted({ messages: mail, capabilities: ['TOP', 'UIDL', 'USER'] });
    const counter = outstandingCounter();
    const client = await connect(
      scriptedOptions(server, { pipelineWindow: 8, trace: counter.trace }),
    );
    expect(client.pipelining).toBe(false);
    counter.reset();
    await Promise.all([client.list(), client.uidl(), ...mail.map((_, i) => client.dele(i + 1))]);
    expect(counter.most()).toBe(1);
    await client.quit();
  });

  it('a session that drops with commands still queued behind the window fails every one of them, none left waiting', async () => {
    const server = await scripted({
      messages: mail,
      capabilities: ['TOP', 'UIDL', 'USER'],
      handlers: { LIST: (ctx) => ctx.session.destroy() },
    });
    const client = await connect(scriptedOptions(server, { pipelineWindow: 8 }));
    const settled = await Promise.allSettled([
      client.list(),
      client.uidl(),
      client.dele(1),
      client.noop(),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    for (const s of settled) {
      expect(s.status === 'rejected' && s.reason).toBeInstanceOf(Pop3Error);
    }
  });
});

describe('CommandWindow on its own', () => {
  it('refuseAll fails every queued request, so none waits on a session that is gone', async () => {
    const window = new CommandWindow(1);
    await window.acquire();
    const queued = [window.acquire(), window.acquire()];
    window.refuseAll(new Error('session gone'));
    const settled = await Promise.allSettled(queued);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });

  it('a larger window admits the queued requests at once, in order; a release admits the next', async () => {
    const window = new CommandWindow(1);
    await window.acquire();
    const order: number[] = [];
    const queued = [1, 2, 3].map((n) => window.acquire().then(() => order.push(n)));
    window.resize(3);
    await Promise.all(queued.slice(0, 2));
    expect(order).toEqual([1, 2]);
    window.release();
    await queued[2];
    expect(order).toEqual([1, 2, 3]);
  });
});
