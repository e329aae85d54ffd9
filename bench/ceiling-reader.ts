/**
 * The server's ceiling: the least a POP3 client over implicit TLS can do to receive every message.
 * USER/PASS, LIST, then RETR of every message with `window` commands in flight, the bytes discarded
 * as they arrive (only the "CRLF.CRLF" terminators are counted), QUIT. Optionally DELE of everything
 * before QUIT (all RETRs, then all DELEs, as mpop does), so the server's expunge at QUIT is counted
 * too when comparing with clients that delete.
 *
 * Depends on node: built-ins only, so run-all can compile it with esbuild and time it as a plain
 * `node` process, like the clients it is compared with, with no TypeScript loader in the way.
 *
 *   node ceiling-reader.mjs '{"host":"127.0.0.1","port":995,"caFile":"ca.pem","user":"u",
 *                             "password":"p","window":64,"dele":false}'
 * prints {"messages":N,"octets":N,"seconds":S} (seconds: connect to the QUIT reply).
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { pathToFileURL } from 'node:url';

export interface CeilingOptions {
  host: string;
  port: number;
  ca: string;
  user: string;
  password: string;
  /** Commands in flight at once. */
  window: number;
  dele: boolean;
}

export interface CeilingResult {
  messages: number;
  octets: number;
  seconds: number;
}

const TERMINATOR = Buffer.from('\r\n.\r\n');
const CRLF = Buffer.from('\r\n');

/** Reads single-line and multi-line replies off one socket, in order. */
class ReplyReader {
  #pending: Buffer = Buffer.alloc(0);
  #waiter: (() => void) | null = null;
  #error: Error | null = null;
  #ended = false;

  /** Text phase: buffer everything (only before the RETRs; the replies are small). */
  feed(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#wake();
  }

  fail(error: Error): void {
    this.#error = error;
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  async #more(): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#ended) throw new Error('the server closed the connection');
    await new Promise<void>((resolve) => {
      this.#waiter = resolve;
    });
    if (this.#error) throw this.#error;
  }

  async line(): Promise<string> {
    for (;;) {
      const end = this.#pending.indexOf(CRLF);
      if (end >= 0) {
        const text = this.#pending.subarray(0, end).toString('latin1');
        this.#pending = this.#pending.subarray(end + 2);
        if (!text.startsWith('+OK')) throw new Error(`server said: ${text}`);
        return text;
      }
      await this.#more();
    }
  }

  async multiline(): Promise<string> {
    await this.line();
    for (;;) {
      const end = this.#pending.indexOf(TERMINATOR);
      // The status line's CRLF was consumed: an empty body is ".\r\n" at the start.
      if (this.#pending.subarray(0, 3).toString('latin1') === '.\r\n') {
        this.#pending = this.#pending.subarray(3);
        return '';
      }
      if (end >= 0) {
        const body = this.#pending.subarray(0, end).toString('latin1');
        this.#pending = this.#pending.subarray(end + TERMINATOR.length);
        return body;
      }
      await this.#more();
    }
  }

  /** What the text phase had read beyond the last reply (the start of the first RETR reply). */
  takeRest(): Buffer {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return rest;
  }
}

export async function readCeiling(options: CeilingOptions): Promise<CeilingResult> {
  const started = performance.now();
  const socket = connect({ host: options.host, port: options.port, ca: options.ca });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const replies = new ReplyReader();
  const onText = (chunk: Buffer) => replies.feed(chunk);
  socket.on('data', onText);
  socket.on('error', (error) => replies.fail(error));
  socket.on('end', () => replies.end());

  await replies.line();
  socket.write(`USER ${options.user}\r\n`);
  await replies.line();
  socket.write(`PASS ${options.password}\r\n`);
  await replies.line();
  socket.write('LIST\r\n');
  const count = (await replies.multiline()).split('\r\n').filter((l) => l !== '').length;

  // RETR phase: count terminators across chunk boundaries without keeping any bytes.
  socket.off('data', onText);
  let octets = 0;
  let done = 0;
  let sent = 0;
  let tail: Buffer = Buffer.alloc(0);
  const send = () => {
    let batch = '';
    while (sent < count && sent - done < options.window) {
      sent += 1;
      batch += `RETR ${sent}\r\n`;
    }
    if (batch !== '') socket.write(batch);
  };
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      octets += chunk.length;
      // A terminator split across chunks: look at the last 4 bytes before and the first 4 after.
      if (tail.length > 0) {
        const seam = Buffer.concat([tail, chunk.subarray(0, TERMINATOR.length - 1)]);
        for (let at = seam.indexOf(TERMINATOR); at >= 0 && at < tail.length; ) {
          done += 1;
          at = seam.indexOf(TERMINATOR, at + 1);
        }
      }
      for (let at = chunk.indexOf(TERMINATOR); at >= 0; at = chunk.indexOf(TERMINATOR, at + 1)) {
        done += 1;
      }
      tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (TERMINATOR.length - 1))));
      if (done >= count) {
        socket.off('data', onData);
        resolve();
      } else send();
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => reject(new Error(`connection ended after ${done} of ${count}`)));
    const rest = replies.takeRest();
    if (count === 0) resolve();
    else {
      send();
      if (rest.length > 0) onData(rest);
    }
  });

  socket.on('data', onText);
  if (options.dele) {
    // All RETRs are answered; the DELE replies are single lines, pipelined the same way.
    let acknowledged = 0;
    let deleSent = 0;
    while (acknowledged < count) {
      let batch = '';
      while (deleSent < count && deleSent - acknowledged < options.window) {
        deleSent += 1;
        batch += `DELE ${deleSent}\r\n`;
      }
      if (batch !== '') socket.write(batch);
      await replies.line();
      acknowledged += 1;
    }
  }
  socket.write('QUIT\r\n');
  await replies.line();
  const seconds = (performance.now() - started) / 1000;
  socket.end();
  return { messages: done, octets, seconds };
}

// As a process: the options as one JSON argument (the CA from a file), the result on stdout.
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const args = JSON.parse(process.argv[2] ?? '{}') as Omit<CeilingOptions, 'ca'> & {
    caFile: string;
  };
  const result = await readCeiling({ ...args, ca: readFileSync(args.caFile, 'utf8') });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
