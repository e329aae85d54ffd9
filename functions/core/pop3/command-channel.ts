import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { openBodyStream } from './body-stream.js';
import { CommandWindow } from './command-window.js';
import { DotUnstuffer } from './dot-unstuffer.js';
import {
  Pop3AuthError,
  Pop3Error,
  type Pop3ErrorCode,
  Pop3ProtocolError,
  Pop3ServerError,
  Pop3TimeoutError,
  Pop3UsageError,
} from './errors.js';
import {
  MAX_COMMAND_LINE_OCTETS,
  MAX_LISTING_ENTRIES,
  MAX_SASL_LINE_OCTETS,
  MAX_STATUS_LINE_OCTETS,
} from './limits.js';
import { type Listing, ListingCollector } from './listing.js';
import { SecretScrubber } from './secret-scrubber.js';
import { parseStatusLine, type StatusLine } from './status-line.js';
import { WireReader } from './wire-reader.js';

export interface CommandSpec {
  verb: string;
  line: string;
  /** What the trace shows instead of `line` (secrets removed). */
  traced?: string;
  /** Wait until every earlier reply is consumed before sending (never pipelined). */
  barrier?: boolean;
  /** A login command: a plain -ERR means bad credentials. */
  login?: boolean;
  allowContinuation?: boolean;
}

export interface Reply<T> {
  value: T;
  /** Settles when the whole reply has been read off the wire (for a body: when it has been consumed). */
  settled: Promise<void>;
}

export interface CommandChannelOptions {
  idleTimeoutMs: number;
  maxListingEntries?: number;
  trace?: (direction: 'send' | 'receive', line: string) => void;
}

export const DONE: Promise<void> = Promise.resolve();
/** Characters of a failed login's reply kept in the error (and so in the run record). */
const MAX_LOGIN_REPLY_TEXT = 120;

const RESPONSE_CODES: ReadonlyArray<[string, Pop3ErrorCode]> = [
  ['IN-USE', 'IN_USE'],
  ['LOGIN-DELAY', 'LOGIN_DELAY'],
  ['SYS/TEMP', 'SYS_TEMP'],
  ['SYS/PERM', 'SYS_PERM'],
  ['AUTH', 'AUTH_FAILED'],
];

function codeFor(responseCode: string | null, login: boolean): Pop3ErrorCode {
  if (responseCode !== null) {
    for (const [prefix, code] of RESPONSE_CODES) {
      if (responseCode === prefix || responseCode.startsWith(`${prefix}/`)) return code;
    }
  }
  return login ? 'AUTH_FAILED' : 'COMMAND_FAILED';
}

/**
 * The private wire primitives of one POP3 session, under the client's public verbs: #exec (ordered,
 * optionally pipelined command/reply), readStatus, the multi-line listing and the streaming body, and
 * the first failure, which tears the connection down and wakes everything waiting.
 */
export class CommandChannel {
  readonly #options: CommandChannelOptions;
  readonly #reader: WireReader;
  readonly #window = new CommandWindow(1);
  readonly #secrets = new SecretScrubber();
  readonly #bodies = new Set<Readable>();
  #socket: Socket | TLSSocket | null = null;
  #turnTail: Promise<void> = DONE;
  #failure: Pop3Error | null = null;
  #deadlineTimer: NodeJS.Timeout | null = null;
  readonly #failed = new AbortController();

  constructor(options: CommandChannelOptions) {
    this.#options = options;
    this.#reader = new WireReader(options.idleTimeoutMs, (ms, what) =>
      this.fail(
        new Pop3TimeoutError(
          what.startsWith('greeting') ? 'greeting' : 'reply',
          `the POP3 server sent nothing for ${ms} ms while a ${what} was expected`,
        ),
      ),
    );
  }

  /** A value that must never reach a trace or an error (a password, a token, a digest). */
  addSecret(secret: string): void {
    this.#secrets.add(secret);
  }

  scrub(text: string): string {
    return this.#secrets.scrub(text);
  }

  /** Holds the socket (to destroy it on failure) before its replies are read. */
  hold(socket: Socket | TLSSocket): void {
    this.#socket = socket;
  }

  /** Aborted with the session's first failure: ends a TCP connect or TLS handshake in progress. */
  get failed(): AbortSignal {
    return this.#failed.signal;
  }

  attach(socket: Socket | TLSSocket): void {
    this.#socket = socket;
    this.#reader.attach(socket);
  }

  /** Stops reading the socket (before STLS hands it to TLS). Returns the octets still unread. */
  detach(): number {
    return this.#reader.detach();
  }

  resizeWindow(size: number): void {
    this.#window.resize(size);
  }

  armDeadline(deadline: number): void {
    const fire = (): void => {
      this.fail(
        new Pop3TimeoutError(
          'deadline',
          `the session deadline ${new Date(deadline).toISOString()} passed; the connection was dropped without QUIT, so nothing was deleted`,
        ),
      );
    };
    const wait = deadline - Date.now();
    if (wait <= 0) {
      fire();
      return;
    }
    this.#deadlineTimer = setTimeout(fire, wait);
  }

  simple<T>(
    spec: CommandSpec,
    parse: (status: Extract<StatusLine, { kind: 'ok' }>) => T,
  ): Promise<T> {
    return this.exec(spec, (status) => {
      if (status.kind !== 'ok')
        throw new Pop3ProtocolError(
          'PROTOCOL_VIOLATION',
          `unexpected SASL continuation after ${spec.verb}`,
        );
      return { value: parse(status), settled: DONE };
    });
  }

  /** A multi-line listing, parsed line by line as it arrives (see ListingCollector). */
  listing<T>(spec: CommandSpec, parse: (line: string) => T): Promise<Listing<T>> {
    return this.exec(spec, async () => {
      const unstuffer = new DotUnstuffer();
      const collector = new ListingCollector(
        parse,
        this.#options.maxListingEntries ?? MAX_LISTING_ENTRIES,
      );
      for (
        let run = await this.#reader.readBody(unstuffer, `${spec.verb} listing`);
        run !== null;
        run = await this.#reader.readBody(unstuffer, `${spec.verb} listing`)
      ) {
        collector.push(run);
      }
      return { value: collector.end(), settled: DONE };
    });
  }

  body(spec: CommandSpec): Promise<Readable> {
    return this.exec(spec, () =>
      openBodyStream(this.#reader, `${spec.verb} body`, this.#bodies, (err) => this.fail(err)),
    );
  }

  /**
   * Sends one command and handles its reply in order. Commands are written as soon as the window has
   * room (pipelining) but replies are read strictly in order: each waits for the previous reply to be
   * fully consumed. A -ERR rejects only its own command; anything else that breaks the stream fails
   * the session.
   */
  async exec<T>(
    spec: CommandSpec,
    onReply: (status: StatusLine) => Reply<T> | Promise<Reply<T>>,
  ): Promise<T> {
    this.assertUsable();
    const previous = this.#turnTail;
    let endTurn: () => void = () => {};
    this.#turnTail = new Promise<void>((resolve) => {
      endTurn = resolve;
    });
    let holdsSlot = false;
    let handedOff = false;
    try {
      await this.#window.acquire();
      holdsSlot = true;
      if (spec.barrier) await previous;
      this.assertUsable();
      this.writeLine(spec.line, spec.traced ?? spec.line, MAX_COMMAND_LINE_OCTETS);
      await previous;
      this.assertUsable();
      let reply: Reply<T>;
      try {
        const status = await this.readStatus(spec.verb, spec.allowContinuation ?? false);
        if (status.kind === 'err') throw this.errorFor(spec, status);
        reply = await onReply(status);
      } catch (err) {
        if (err instanceof Pop3ServerError || err instanceof Pop3UsageError) throw err;
        throw this.fail(err);
      }
      handedOff = true;
      reply.settled.then(() => {
        endTurn();
        this.#window.release();
      });
      return reply.value;
    } finally {
      if (!handedOff) {
        endTurn();
        if (holdsSlot) this.#window.release();
      }
    }
  }

  async readStatus(
    what: string,
    allowContinuation: boolean,
    timeoutMs?: number,
  ): Promise<StatusLine> {
    const max = allowContinuation ? MAX_SASL_LINE_OCTETS : MAX_STATUS_LINE_OCTETS;
    const line = await this.#reader.readLine(max, `${what} status line`, timeoutMs);
    const status = parseStatusLine(line, allowContinuation);
    this.#options.trace?.('receive', this.scrub(line.toString('latin1')));
    return status;
  }

  writeLine(line: string, traced: string, maxOctets = Number.POSITIVE_INFINITY): void {
    const bytes = Buffer.from(`${line}\r\n`, 'utf8');
    if (bytes.length > maxOctets) {
      throw new Pop3UsageError(
        'INVALID_ARGUMENT',
        `the ${traced.split(' ')[0]} command is ${bytes.length} octets, over the ${maxOctets}-octet limit (RFC 2449 s.4)`,
      );
    }
    this.#options.trace?.('send', traced);
    this.#socket?.write(bytes);
  }

  errorFor(
    spec: CommandSpec,
    status: { text: string; responseCode?: string | null },
    detail = '',
  ): Pop3ServerError {
    const responseCode = status.responseCode ?? null;
    const code = codeFor(responseCode, spec.login ?? false);
    const scrubbed = this.scrub(detail ? `${status.text} (${detail})` : status.text);
    // After a failed login the server's words are the likeliest place for an echoed credential in
    // a form no scrubbing foresaw: keep only enough to tell "locked" from "bad password".
    const text = spec.login ? scrubbed.slice(0, MAX_LOGIN_REPLY_TEXT) : scrubbed;
    const details = { command: spec.verb, serverText: text, responseCode };
    return code === 'AUTH_FAILED'
      ? new Pop3AuthError(code, details)
      : new Pop3ServerError(code, details);
  }

  assertUsable(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Records the first failure, tears the connection down and wakes everything waiting. */
  fail(err: unknown): Pop3Error {
    if (this.#failure) return this.#failure;
    const failure =
      err instanceof Pop3Error
        ? err
        : new Pop3ProtocolError('PROTOCOL_VIOLATION', `POP3 session failed: ${String(err)}`, {
            cause: err,
          });
    this.shutdown(failure);
    return failure;
  }

  shutdown(reason: Pop3Error): void {
    if (!this.#failure) this.#failure = reason;
    if (this.#deadlineTimer) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = null;
    this.#reader.fail(this.#failure);
    this.#window.refuseAll(this.#failure);
    this.#socket?.destroy();
    this.#failed.abort(this.#failure);
    for (const body of this.#bodies) body.destroy(this.#failure);
    this.#bodies.clear();
  }
}
