import { describe, expect, it } from 'vitest';
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
});
