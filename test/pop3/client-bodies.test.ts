/**
 * Message bodies as streams: when a body lets the next reply through, what a failure while draining
 * a discarded body does to the session, and a body nobody reads when the session ends.
 */
import { describe, expect, it } from 'vitest';
import {
  collect,
  connect,
  expectPop3Error,
  message,
  scripted,
  scriptedOptions,
} from '../support/pop3-test-kit.js';

const text = 'Subject: a\r\n\r\nsmall\r\n';

describe('message bodies', () => {
  it('a body whose end has been read off the wire lets the next reply through before the caller drains it', async () => {
    const server = await scripted({ messages: [message('a', text)] });
    const client = await connect(scriptedOptions(server));
    const body = await client.retr(1);
    // Starts the stream filling its own buffer, without consuming anything from it.
    body.read(0);
    await client.noop();
    expect(body.readableLength).toBe(Buffer.byteLength(text));
    expect((await collect(body)).toString()).toBe(text);
  });

  it('a discarded body whose drain meets the end of the connection fails the session, naming the body', async () => {
    const server = await scripted({
      messages: [message('a', text)],
      handlers: {
        async RETR(ctx) {
          await ctx.session.write('+OK\r\nSubject: a\r\n\r\npart');
          ctx.session.end();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    const body = await client.retr(1);
    body.destroy();
    const err = await expectPop3Error(client.noop(), 'UNEXPECTED_EOF');
    expect(err.message).toBe('the server closed the connection while a RETR body was expected');
  });

  it('a body nobody reads is destroyed with the session when it is closed, without crashing the process', async () => {
    const server = await scripted({ messages: [message('a', text)] });
    const client = await connect(scriptedOptions(server));
    const body = await client.retr(1);
    // Not events.once: it would listen for 'error' itself.
    const closed = new Promise((resolve) => body.on('close', resolve));
    client.close();
    await closed;
    expect(body.destroyed).toBe(true);
    expect(body.errored).toMatchObject({ code: 'SESSION_CLOSED' });
  });
});
