/**
 * The TLS handshake over an open TCP socket (implicit TLS, or after STLS), against TLS servers on
 * loopback with the throwaway test CA: what each way of failing tells the user, the SNI name, the
 * certificate pin however it is written, and a server that never answers the handshake.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pop3TimeoutError } from '../../functions/core/pop3/errors.js';
import { startTls, type TransportOptions } from '../../functions/core/pop3/transport.js';
import { generateTestCertificates, type TestCertificates } from '../support/certs.js';
import { expectPop3Error } from '../support/pop3-test-kit.js';

let certs: TestCertificates;
beforeAll(() => {
  certs = generateTestCertificates();
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Listens on loopback with `onConnection`; returns the port. */
async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** A TLS server presenting the test leaf (names localhost and 127.0.0.1); records the SNI it saw. */
async function tlsServer(): Promise<{ port: number; servernames: (string | false | null)[] }> {
  const servernames: (string | false | null)[] = [];
  const server = tls.createServer({ key: certs.server.key, cert: certs.server.cert }, (socket) => {
    servernames.push(socket.servername);
    socket.on('error', () => {});
    cleanups.push(() => socket.destroy());
  });
  server.on('tlsClientError', () => {});
  return { port: await listen(server), servernames };
}

/** A TCP server that does `onSocket` with each connection instead of TLS. */
async function tcpServer(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    cleanups.push(() => socket.destroy());
    onSocket(socket);
  });
  return listen(server);
}

async function tcp(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

function options(over: Partial<TransportOptions>): TransportOptions {
  return {
    host: 'localhost',
    port: 995,
    tls: 'implicit',
    ca: certs.ca.cert,
    connectTimeoutMs: 10_000,
    ...over,
  };
}

async function handshake(
  port: number,
  over: Partial<TransportOptions>,
  timeoutMs = 10_000,
  abort?: AbortSignal,
) {
  const secured = await startTls(await tcp(port), options(over), timeoutMs, abort);
  const handshakeListeners = secured.listenerCount('error');
  // What the session's reader does on attach: a reset at teardown is then not an uncaught error.
  secured.on('error', () => {});
  cleanups.push(() => secured.destroy());
  return { secured, handshakeListeners };
}

describe('a certificate the client must refuse', () => {
  it('a certificate for another name is TLS_HOSTNAME_MISMATCH, naming the host, with the TLS error as cause', async () => {
    const { port } = await tlsServer();
    const err = await expectPop3Error(
      handshake(port, { host: 'pop.example.com' }),
      'TLS_HOSTNAME_MISMATCH',
    );
    expect(err.message).toMatch(
      /^the certificate of pop\.example\.com does not name pop\.example\.com: .*pop\.example\.com/,
    );
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('a certificate from a CA the user did not give is TLS_UNTRUSTED, naming the host, the code and the ca option', async () => {
    const { port } = await tlsServer();
    const err = await expectPop3Error(handshake(port, { ca: certs.otherCa.cert }), 'TLS_UNTRUSTED');
    expect(err.message).toBe(
      'the certificate of localhost is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE); if it is your own server, pass its CA with the ca option',
    );
    expect((err.cause as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('a pin that does not match is TLS_PIN_MISMATCH, showing the fingerprint seen and what to do', async () => {
    const { port } = await tlsServer();
    const err = await expectPop3Error(
      handshake(port, { pinSha256: 'AA'.repeat(32) }),
      'TLS_PIN_MISMATCH',
    );
    expect(err.message).toBe(
      `the certificate of localhost has SHA-256 fingerprint ${certs.serverFingerprint256}, not the pinned one; if the server's certificate was renewed, update the pin`,
    );
  });
});

describe('a TLS fault that is not about trust', () => {
  it('a server that answers the ClientHello in cleartext is TLS_FAILED, not an untrusted certificate', async () => {
    const port = await tcpServer((socket) => {
      socket.once('data', () => socket.write('-ERR this port does not speak TLS\r\n'));
    });
    const err = await expectPop3Error(handshake(port, {}), 'TLS_FAILED');
    expect(err.message).toMatch(/^TLS with localhost failed: .+/);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('a server that resets the connection mid-handshake is TLS_FAILED, and the reset does not escape as an unhandled error', async () => {
    const port = await tcpServer((socket) => {
      socket.once('data', () => socket.resetAndDestroy());
    });
    const err = await expectPop3Error(handshake(port, {}), 'TLS_FAILED');
    expect(err.message).toContain('TLS with localhost failed');
  });

  it('a server that never answers the handshake times out in the connect phase, naming the host and the limit', async () => {
    const port = await tcpServer(() => {});
    const err = await expectPop3Error(handshake(port, {}, 200), 'TIMEOUT');
    expect(err).toBeInstanceOf(Pop3TimeoutError);
    expect((err as Pop3TimeoutError).phase).toBe('connect');
    expect(err.message).toBe('the TLS handshake with localhost took longer than 200 ms');
  });
});

describe('a handshake the session abandons', () => {
  it('a session already failed when the handshake would start rejects with its reason and closes the TCP socket, sending nothing', async () => {
    const received: Buffer[] = [];
    const port = await tcpServer((socket) => socket.on('data', (chunk) => received.push(chunk)));
    const socket = await tcp(port);
    const reason = new Pop3TimeoutError('deadline', 'the session deadline passed');
    const err = await startTls(socket, options({}), 10_000, AbortSignal.abort(reason)).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(reason);
    expect(socket.destroyed).toBe(true);
    expect(received).toEqual([]);
  });

  it('a session failing mid-handshake ends it at once with its reason, not at the handshake limit, and the server sees the close', async () => {
    let connected = false;
    let serverSide: Promise<unknown> = Promise.resolve();
    const port = await tcpServer((socket) => {
      connected = true;
      serverSide = once(socket, 'close');
      socket.resume(); // reads the ClientHello and then the end of the stream
    });
    const abort = new AbortController();
    const reason = new Pop3TimeoutError('deadline', 'the session deadline passed');
    const pending = startTls(await tcp(port), options({}), 3_600_000, abort.signal);
    await expect.poll(() => connected).toBe(true);
    abort.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await serverSide;
  });
});

describe('a handshake that succeeds', () => {
  it('is not torn down by a later abort once settled: the session owns the socket from here', async () => {
    const server = await tlsServer();
    const abort = new AbortController();
    const { secured } = await handshake(server.port, {}, 10_000, abort.signal);
    abort.abort(new Error('a later session failure'));
    expect(secured.destroyed).toBe(false);
    await expect.poll(() => server.servernames.length).toBe(1);
  });

  it('sends the host name as SNI, so a server with many names can present the right certificate', async () => {
    const server = await tlsServer();
    await handshake(server.port, {});
    await expect.poll(() => server.servernames).toEqual(['localhost']);
  });

  it('accepts the pin however it is written: lower case, without colons, or spaced', async () => {
    const server = await tlsServer();
    const hex = certs.serverFingerprint256.replace(/:/g, '');
    for (const pin of [hex.toLowerCase(), hex.replace(/(..)/g, '$1 ').trim()]) {
      const { secured } = await handshake(server.port, { pinSha256: pin });
      expect(secured.authorized).toBe(true);
    }
    await expect.poll(() => server.servernames.length).toBe(2);
  });

  it('leaves the socket with no handshake-time error listener: later errors go to the session reader only', async () => {
    const server = await tlsServer();
    const { handshakeListeners } = await handshake(server.port, {});
    expect(handshakeListeners).toBe(0);
    await expect.poll(() => server.servernames.length).toBe(1);
  });
});

afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
