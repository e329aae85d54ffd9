/**
 * Opening the TCP connection: what a refused connection tells the user, plaintext refused once the
 * name turns out to reach another machine, and the socket handed on in the state the session needs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Pop3TimeoutError } from '../../functions/core/pop3/errors.js';
import { openTcp, type TransportOptions } from '../../functions/core/pop3/transport.js';
import { expectPop3Error } from '../support/pop3-test-kit.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function listen(host: string): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    cleanups.push(() => socket.destroy());
  });
  server.listen(0, host);
  await once(server, 'listening');
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

function options(over: Partial<TransportOptions>): TransportOptions {
  return {
    host: '127.0.0.1',
    port: 110,
    tls: 'none',
    insecure: true,
    connectTimeoutMs: 10_000,
    ...over,
  };
}

async function open(over: Partial<TransportOptions>): Promise<net.Socket> {
  const socket = await openTcp(options(over), 10_000);
  cleanups.push(() => socket.destroy());
  return socket;
}

/**
 * A port whose listener never accepts, with its accept queue full: the kernel then drops further
 * SYNs, as a firewall that swallows packets does, and a connect hangs. The listener is a child
 * process blocked (without spinning) inside its listen callback, which runs before the event loop
 * first polls: blocking any later (setImmediate) let it accept a filler now and then, freeing a slot
 * for the connect under test (56 of 150 trials on a loaded machine; 0 of 200 blocking here).
 * A listen backlog of 1 holds two.
 */
async function blackholePort(): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer();
       s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         process.stdout.write(s.address().port + '\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  cleanups.push(() => child.kill('SIGKILL'));
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  let connected = 0;
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 4; i += 1) {
      const filler = net.connect({ host: '127.0.0.1', port });
      filler.on('error', () => {});
      cleanups.push(() => filler.destroy());
      filler.once('connect', () => {
        connected += 1;
        if (connected === 2) resolve();
      });
    }
  });
  // A filler's client side connects on the SYN-ACK, before the listener has queued it on the ACK;
  // a SYN arriving in between is still answered. Wait until the kernel shows the queue full.
  await acceptQueueFull(port, 2);
  return port;
}

/** Polls the listener's accept-queue length (rx_queue of a LISTEN row in /proc/net/tcp). */
async function acceptQueueFull(port: number, length: number): Promise<void> {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (let attempt = 0; attempt < 400; attempt += 1) {
    const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n');
    const row = rows.find((r) => r.includes(`:${portHex} 00000000:0000 0A `));
    const queued =
      row === undefined ? 0 : Number.parseInt(row.trim().split(/\s+/)[4]?.split(':')[1] ?? '0', 16);
    if (queued >= length) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`the listener on port ${port} never showed ${length} connections queued`);
}

/** An address of this machine that is not loopback: what a name resolving elsewhere reaches. */
function nonLoopbackAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (entry.family === 'IPv4' && !entry.internal) return entry.address;
    }
  }
  throw new Error('this test needs a non-loopback IPv4 address on the machine; none was found');
}

describe('opening the connection', () => {
  it('a refused connection is CONNECTION_FAILED naming host, port and the system code, with the system error as cause', async () => {
    const port = await listen('127.0.0.1');
    cleanups.splice(0).forEach((cleanup) => {
      cleanup();
    });
    const err = await expectPop3Error(open({ port }), 'CONNECTION_FAILED');
    expect(err.message).toBe(`cannot connect to 127.0.0.1:${port}: ECONNREFUSED`);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('a server that never completes the TCP handshake times out in the connect phase, naming host, port and the limit', async () => {
    const port = await blackholePort();
    const err = await expectPop3Error(openTcp(options({ port }), 300), 'TIMEOUT');
    expect(err).toBeInstanceOf(Pop3TimeoutError);
    expect((err as Pop3TimeoutError).phase).toBe('connect');
    expect(err.message).toBe(`connecting to 127.0.0.1:${port} took longer than 300 ms`);
  });

  it('a session failing while the TCP handshake hangs ends the attempt at once with its reason, not at the connect limit', async () => {
    const port = await blackholePort();
    const abort = new AbortController();
    const reason = new Pop3TimeoutError('deadline', 'the session deadline passed');
    const pending = openTcp(options({ port }), 3_600_000, abort.signal);
    abort.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('a session already failed opens no connection at all', async () => {
    const reason = new Pop3TimeoutError('deadline', 'the session deadline passed');
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    await expect(openTcp(options({}), 10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(connect).not.toHaveBeenCalled();
  });

  it('plaintext to an address that is not loopback is refused once connected, naming the host and the address', async () => {
    const address = nonLoopbackAddress();
    const port = await listen('0.0.0.0');
    const err = await expectPop3Error(open({ host: address, port }), 'INSECURE_REFUSED');
    expect(err.message).toBe(
      `${address} resolved to the non-loopback address ${address}; plaintext POP3 is refused`,
    );
  });

  it('the same address is fine for a connection that will run TLS', async () => {
    const address = nonLoopbackAddress();
    const port = await listen('0.0.0.0');
    const socket = await open({ host: address, port, tls: 'implicit', insecure: false });
    expect(socket.remoteAddress).toBe(address);
  });

  it('hands on a socket with Nagle off (pipelined commands are not held back) and no connect-time error listener', async () => {
    const noDelay = vi.spyOn(net.Socket.prototype, 'setNoDelay');
    const port = await listen('127.0.0.1');
    const socket = await open({ port });
    expect(noDelay).toHaveBeenCalledWith(true);
    expect(noDelay).not.toHaveBeenCalledWith(false);
    expect(socket.listenerCount('error')).toBe(0);
  });
});
