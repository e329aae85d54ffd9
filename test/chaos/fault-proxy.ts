/**
 * A TCP proxy between the pull and the POP3 server that applies one drawn fault at an exact point
 * of the session: it counts the octets passed in each direction and follows the POP3 dialogue
 * (commands one way, single- or multi-line replies the other), so it can act at a byte offset, right
 * after the reply to the n-th DELE, or around QUIT. It sits in the plaintext path: chaos pulls talk
 * plain POP3 to 127.0.0.1 (`tls: 'none'`, `insecure: true`, which the client allows for loopback
 * only), because a proxy that saw only TLS records could count bytes but never find a DELE or QUIT.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Direction, ProxyFault } from './fault-plan.js';

export interface ProxyHooks {
  /** SIGKILL the pull now (the proxy has stopped passing anything on). */
  kill(): void;
  /** Deliver new mail now; the session goes on. */
  deliver(messages: number): void;
}

const LF = 0x0a;
type Effect = 'kill' | 'cut' | 'stall';
/** Replies that carry a multi-line body after +OK (LIST and UIDL only without an argument). */
function multiLine(command: string): boolean {
  const [verb = '', ...args] = command.trim().split(/\s+/);
  const upper = verb.toUpperCase();
  if (upper === 'RETR' || upper === 'TOP' || upper === 'CAPA') return true;
  return (upper === 'LIST' || upper === 'UIDL') && args.length === 0;
}

/** Splits a byte stream into lines, keeping only each line's first octets (all it needs to look at). */
class LineScanner {
  #head = '';
  #length = 0;

  /** Calls `line(head, length, endIndex)` for every line that ends in `chunk` (endIndex inclusive). */
  scan(chunk: Buffer, line: (head: string, length: number, end: number) => boolean): void {
    let start = 0;
    for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1)) {
      const piece = chunk.subarray(start, lf + 1);
      const head = (this.#head + piece.subarray(0, 16).toString('latin1')).slice(0, 16);
      const length = this.#length + piece.length;
      this.#head = '';
      this.#length = 0;
      start = lf + 1;
      if (line(head, length, lf)) return;
    }
    const rest = chunk.subarray(start);
    if (this.#head.length < 16) this.#head += rest.subarray(0, 16).toString('latin1');
    this.#length += rest.length;
  }
}

export class FaultProxy {
  /** What the fault did, once it struck ("killed at s2c octet 1234", ...); null if it never did. */
  fired: string | null = null;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    return address.port;
  }

  static async start(
    target: { host: string; port: number },
    fault: ProxyFault | null,
    hooks: ProxyHooks,
  ): Promise<FaultProxy> {
    let proxy: FaultProxy | null = null;
    const server = createServer((client) => {
      if (proxy !== null) proxy.#handle(client, target, fault, hooks);
    });
    proxy = new FaultProxy(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(
    client: Socket,
    target: { host: string; port: number },
    fault: ProxyFault | null,
    hooks: ProxyHooks,
  ): void {
    const upstream = connect(target.port, target.host);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const counted = { 'client-to-server': 0, 'server-to-client': 0 };
    let halted = false;
    let stalled = false;
    // The reply queue: the greeting first, then one entry per command the client sent.
    const pending: boolean[] = [false];
    const pendingVerbs: string[] = ['GREETING'];
    let inBody = false;
    let deleReplies = 0;
    const commands = new LineScanner();
    const replies = new LineScanner();
    const active = this.fired === null ? fault : null;

    const strike = (description: string, effect: 'kill' | 'cut' | 'stall'): void => {
      halted = true;
      this.fired = description;
      if (effect === 'kill') hooks.kill();
      else if (effect === 'cut') {
        client.destroy();
        upstream.destroy();
      } else stalled = true;
    };

    const pass = (direction: Direction, chunk: Buffer): void => {
      if (halted || chunk.length === 0) return;
      const destination = direction === 'client-to-server' ? upstream : client;
      const total = counted['client-to-server'] + counted['server-to-client'];
      let cutAt = chunk.length;
      let action: { description: string; effect: 'kill' | 'cut' | 'stall' } | null = null;
      if (active !== null && this.fired === null) {
        switch (active.kind) {
          case 'kill-at-byte':
            if (total + chunk.length >= active.offset) {
              cutAt = Math.max(0, active.offset - total);
              action = { description: `killed at session octet ${active.offset}`, effect: 'kill' };
            }
            break;
          case 'cut-at-byte':
          case 'stall-at-byte':
            if (
              direction === active.direction &&
              counted[direction] + chunk.length >= active.offset
            ) {
              cutAt = Math.max(0, active.offset - counted[direction]);
              const effect: Effect = active.kind === 'cut-at-byte' ? 'cut' : 'stall';
              action = { description: `${effect} at ${direction} octet ${active.offset}`, effect };
            }
            break;
          case 'deliver-during-run':
            if (total + chunk.length >= active.offset) {
              this.fired = `delivered ${active.messages} at session octet ${active.offset}`;
              hooks.deliver(active.messages);
            }
            break;
          case 'kill-before-quit':
          case 'kill-after-quit-sent':
            if (direction === 'client-to-server') {
              commands.scan(chunk, (head, length, end) => {
                if (!head.toUpperCase().startsWith('QUIT')) return false;
                const before = active.kind === 'kill-before-quit';
                cutAt = before ? Math.max(0, end + 1 - length) : end + 1;
                action = {
                  description: before
                    ? 'killed before QUIT reached the server'
                    : 'killed after QUIT, before its reply',
                  effect: 'kill',
                };
                return true;
              });
            }
            break;
          case 'kill-after-dele-reply':
            if (direction === 'client-to-server') {
              commands.scan(chunk, (head) => {
                pending.push(multiLine(head));
                pendingVerbs.push(head.trim().split(/\s+/)[0]?.toUpperCase() ?? '');
                return false;
              });
            } else {
              replies.scan(chunk, (head, length, end) => {
                let complete = false;
                if (inBody) {
                  complete = length === 3 && head.startsWith('.\r\n');
                } else {
                  const multi = pending.shift() ?? false;
                  const verb = pendingVerbs.shift() ?? '';
                  if (head.startsWith('+OK') && multi) inBody = true;
                  else complete = true;
                  if (complete && verb === 'DELE') {
                    deleReplies += 1;
                    if (deleReplies === active.dele) {
                      cutAt = end + 1;
                      action = {
                        description: `killed after the reply to DELE number ${active.dele}`,
                        effect: 'kill',
                      };
                      return true;
                    }
                  }
                  return false;
                }
                if (complete) inBody = false;
                return false;
              });
            }
            break;
        }
      }
      counted[direction] += cutAt;
      const part = cutAt === chunk.length ? chunk : chunk.subarray(0, cutAt);
      const chosen = action as { description: string; effect: 'kill' | 'cut' | 'stall' } | null;
      if (chosen === null) {
        destination.write(part);
        return;
      }
      halted = true;
      this.fired = chosen.description;
      // Strike once the octets before the point are handed to the kernel, so "after the reply"
      // means the pull could have read it.
      destination.write(part, () => strike(chosen.description, chosen.effect));
    };

    client.on('data', (chunk: Buffer) => pass('client-to-server', chunk));
    upstream.on('data', (chunk: Buffer) => pass('server-to-client', chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // A stalled session stays open until the pull's own idle timeout gives up on it.
      if (!stalled) client.end();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }
}
