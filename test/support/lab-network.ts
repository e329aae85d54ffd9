/**
 * What every POP3 server lab (dovecot.ts, courier-lab.ts, cyrus-lab.ts, mailutils-lab.ts) needs of
 * the network: free ports to configure, and a way to know the server is up, which is its greeting.
 */
import { createServer, connect as netConnect, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** Every lab listens on loopback only. */
export const LAB_HOST = '127.0.0.1';

/** Readiness: a server takes a fraction of a second to listen; this bounds the wait at seconds. */
const CONNECT_ATTEMPTS = 60;

/**
 * Two free ports on `host` ('0.0.0.0': free on every IPv4 address, for a server that listens on
 * two). Both are held open at once, or the kernel could hand out the same port twice.
 */
export async function freePorts(host = LAB_HOST): Promise<[number, number]> {
  const listen = () =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ port: 0, host }, () => resolve(server));
    });
  const servers = [await listen(), await listen()];
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  const [a, b] = ports;
  if (a === undefined || b === undefined) throw new Error('no free ports');
  return [a, b];
}

/**
 * Resolves with the first line the server sends on `port` (over TLS verified against `tls.ca` when
 * given); rejects with the socket error.
 */
export function readGreeting(port: number, tls?: { ca: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls
      ? tlsConnect({ host: LAB_HOST, port, ca: tls.ca })
      : netConnect({ host: LAB_HOST, port });
    let text = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no greeting within 10 s')));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(text.slice(0, end));
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection closed before a greeting: ${text}`)));
  });
}

export class NotListeningError extends Error {}

/**
 * Retries `attempt` (by default: read the greeting on `port`) while it fails with one of
 * `retryOn` (a refused connection: nothing listens yet), until it succeeds, the server exits, or
 * CONNECT_ATTEMPTS have passed (NotListeningError).
 */
export async function waitForGreeting(options: {
  port: number;
  /** Settles when the server process exits: then no greeting will come. */
  exited: Promise<unknown>;
  /** Names the server in errors. */
  server: string;
  attempt?: () => Promise<string>;
  retryOn?: readonly string[];
}): Promise<string> {
  const { port, exited, server } = options;
  const attempt = options.attempt ?? (() => readGreeting(port));
  const retryOn = options.retryOn ?? ['ECONNREFUSED'];
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  for (let tries = 1; ; tries++) {
    if (gone) throw new Error(`${server} exited during start-up`);
    try {
      return await attempt();
    } catch (error) {
      if (!retryOn.includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
      if (tries >= CONNECT_ATTEMPTS) {
        throw new NotListeningError(
          `nothing listens on ${LAB_HOST}:${port} after ${tries} attempts`,
          { cause: error },
        );
      }
    }
    // A refused connect returns at once; a short back-off keeps the retries from spinning a core
    // that the server needs to finish starting.
    await Promise.race([
      new Promise((resolve) => setTimeout(resolve, Math.min(10 * tries, 100))),
      exited,
    ]);
  }
}
