/**
 * The proxy must strike exactly where the plan says, or the chaos figures describe faults that never
 * happened: after the n-th DELE's reply (not a "+OK" line inside a message body), before or just
 * after QUIT, and at an exact octet. A scripted server answers every command; the client pipelines.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProxyFault } from './fault-plan.js';
import { FaultProxy } from './fault-proxy.js';

const GREETING = '+OK ready\r\n';
// A body line that looks like a reply: the proxy must not count it as one.
const RETR_REPLY = '+OK 12 octets\r\n+OK fake\r\n..dot\r\n.\r\n';

let server: Server | null = null;
let proxy: FaultProxy | null = null;

afterEach(async () => {
  await proxy?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** Runs `commands` through a proxy with `fault`; returns what each side received. */
async function session(fault: ProxyFault, commands: string) {
  let serverGot = '';
  server = createServer((socket: Socket) => {
    socket.write(GREETING);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      serverGot += chunk.toString('latin1');
      pending += chunk.toString('latin1');
      let lf = pending.indexOf('\n');
      while (lf >= 0) {
        const line = pending.slice(0, lf).trim();
        pending = pending.slice(lf + 1);
        socket.write(line.startsWith('RETR') ? RETR_REPLY : `+OK ${line}\r\n`);
        lf = pending.indexOf('\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  let killed: () => void = () => {};
  const kill = new Promise<void>((resolve) => {
    killed = resolve;
  });
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: address.port }, fault, {
    kill: () => killed(),
    deliver: () => {},
  });
  const client = connect(proxy.port, '127.0.0.1');
  let clientGot = '';
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.on('error', () => {});
  client.on('data', (chunk: Buffer) => {
    clientGot += chunk.toString('latin1');
    // Pipelined, as the pull does with PIPELINING: everything at once after the greeting.
    if (clientGot === GREETING) client.write(commands);
  });
  await kill;
  // The proxy passes nothing on after it struck; closing it ends the client's side.
  await proxy.close();
  await closed;
  return { serverGot, clientGot, fired: proxy.fired };
}

describe('the chaos proxy strikes exactly where the plan says', () => {
  it('after the reply to the 2nd DELE, not counting a "+OK" line inside a RETR body', async () => {
    const result = await session(
      { kind: 'kill-after-dele-reply', dele: 2 },
      'RETR 1\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\nDELE 3\r\nQUIT\r\n',
    );
    expect(result.clientGot).toBe(
      `${GREETING}${RETR_REPLY}+OK DELE 1\r\n${RETR_REPLY}+OK DELE 2\r\n`,
    );
    expect(result.fired).toBe('killed after the reply to DELE number 2');
  });

  it('before QUIT reaches the server: the server never sees it', async () => {
    const result = await session({ kind: 'kill-before-quit' }, 'DELE 1\r\nQUIT\r\n');
    expect(result.serverGot).toBe('DELE 1\r\n');
  });

  it('after QUIT reached the server, before its reply reaches the client', async () => {
    const result = await session({ kind: 'kill-after-quit-sent' }, 'DELE 1\r\nQUIT\r\n');
    expect(result.serverGot).toBe('DELE 1\r\nQUIT\r\n');
    expect(result.clientGot).not.toContain('+OK QUIT');
  });

  it('at an exact octet of the session, both directions counted together', async () => {
    const offset = GREETING.length + 4;
    const result = await session({ kind: 'kill-at-byte', offset }, 'NOOP\r\nNOOP\r\n');
    expect(result.serverGot).toBe('NOOP');
    expect(result.clientGot).toBe(GREETING);
  });
});
