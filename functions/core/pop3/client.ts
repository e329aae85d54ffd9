import type { Readable } from 'node:stream';
import { Capabilities } from './capabilities.js';
import { CommandChannel } from './command-channel.js';
import { Pop3ProtocolError, Pop3ServerError, Pop3UsageError } from './errors.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GREETING_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PIPELINE_WINDOW,
} from './limits.js';
import {
  type Listing,
  parseScanLine,
  parseStat,
  parseUidLine,
  type ScanListing,
  type UidListing,
} from './listing.js';
import { type LoginMechanism, lineSafe, logIn, type Pop3Credentials } from './login.js';
import { upgradeToTls } from './stls.js';
import {
  assertTransportAllowed,
  openTcp,
  startTls,
  type TlsMode,
  type TransportOptions,
} from './transport.js';
import { enterUtf8, type Utf8Mode } from './utf8-mode.js';

export type { LoginMechanism, Pop3Credentials } from './login.js';
export type { Utf8Mode } from './utf8-mode.js';

export interface Pop3ClientOptions {
  host: string;
  port: number;
  tls: TlsMode;
  /** Allows `tls: 'none'`, and only to a loopback host. */
  insecure?: boolean;
  ca?: TransportOptions['ca'];
  pinSha256?: string;
  credentials: Pop3Credentials;
  /** Pipeline commands when the server advertises PIPELINING (default true). False: one at a time. */
  pipelining?: boolean;
  /** Most commands in flight when pipelining (default DEFAULT_PIPELINE_WINDOW). */
  pipelineWindow?: number;
  connectTimeoutMs?: number;
  greetingTimeoutMs?: number;
  /** Longest silence while a reply is awaited. A slow consumer of a message body never counts. */
  idleTimeoutMs?: number;
  /** Listing entries parsed and kept (default MAX_LISTING_ENTRIES); the rest are counted and dropped. */
  maxListingEntries?: number;
  /** Absolute end of the session (epoch ms). At that moment the socket is destroyed: nothing is deleted. */
  deadline?: number;
  /** Protocol trace of command and status lines; credentials are replaced by "***" before it sees them. */
  trace?: (direction: 'send' | 'receive', line: string) => void;
}

export type RetrieveResult =
  | { msg: number; body: Readable; error?: undefined }
  | { msg: number; body?: undefined; error: Pop3ServerError };

/** The entries of a listing that must be whole and well-formed, or the reason it is not. */
function strict<T>(verb: string, listing: Listing<T>): T[] {
  const first = listing.malformed[0];
  if (first !== undefined) {
    throw new Pop3ProtocolError(
      'PROTOCOL_VIOLATION',
      `the server sent a malformed ${verb} line: ${first.line} (${listing.malformedCount} in all)`,
    );
  }
  if (listing.dropped > 0) {
    throw new Pop3ProtocolError(
      'PROTOCOL_VIOLATION',
      `the ${verb} listing has ${listing.entries.length + listing.dropped} entries, over the cap of ${listing.entries.length}`,
    );
  }
  return listing.entries;
}

function messageNumber(msg: number): number {
  if (!Number.isSafeInteger(msg) || msg < 1) {
    throw new Pop3UsageError(
      'INVALID_ARGUMENT',
      `message number must be a positive integer, got ${msg}`,
    );
  }
  return msg;
}

/**
 * A POP3 client session (RFC 1939, 2449, 2595, 5034). Public verbs are one or two lines over the
 * private primitives of a CommandChannel: exec (ordered, optionally pipelined command/reply),
 * readStatus, the listing and the streaming, dot-unstuffed message body. Logging in is login.ts,
 * STLS stls.ts, RFC 6856 UTF-8 mode utf8-mode.ts.
 *
 * Deletion safety rests on the protocol: DELE only marks, QUIT commits. `close()` (or any failure,
 * timeout or deadline) destroys the socket without QUIT, so nothing marked is deleted.
 */
export class Pop3Client {
  readonly #options: Pop3ClientOptions;
  readonly #channel: CommandChannel;
  #capabilities = new Capabilities(null);
  #greeting = '';
  #authMethod: LoginMechanism | null = null;
  #utf8Mode: Utf8Mode = 'not-offered';
  #pipelining = false;

  private constructor(options: Pop3ClientOptions) {
    this.#options = options;
    this.#channel = new CommandChannel({
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      ...(options.maxListingEntries === undefined
        ? {}
        : { maxListingEntries: options.maxListingEntries }),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
    });
    const creds = options.credentials;
    this.#channel.addSecret('password' in creds ? creds.password : creds.accessToken);
  }

  /** Connects, secures, greets, authenticates and reads capabilities. Rejects with a Pop3Error. */
  static async connect(options: Pop3ClientOptions): Promise<Pop3Client> {
    assertTransportAllowed(Pop3Client.#transport(options));
    lineSafe(options.credentials.user, 'user name');
    const client = new Pop3Client(options);
    try {
      await client.#open();
      return client;
    } catch (err) {
      throw client.#channel.fail(err);
    }
  }

  get capabilities(): Capabilities {
    return this.#capabilities;
  }

  get greeting(): string {
    return this.#greeting;
  }

  get authMethod(): LoginMechanism | null {
    return this.#authMethod;
  }

  /** Whether the server serves this session in RFC 6856 UTF-8 mode (see enterUtf8). */
  get utf8Mode(): Utf8Mode {
    return this.#utf8Mode;
  }

  /** Whether this session pipelines commands (server advertises PIPELINING and it was not turned off). */
  get pipelining(): boolean {
    return this.#pipelining;
  }

  stat(): Promise<{ count: number; octets: number }> {
    return this.#channel.simple({ verb: 'STAT', line: 'STAT' }, (s) => parseStat(s.text));
  }

  /** LIST, strict: a malformed line or a listing over the entry cap is a PROTOCOL_VIOLATION. */
  async list(): Promise<ScanListing[]> {
    return strict('LIST', await this.scanListing());
  }

  /** LIST as it came: entries up to the cap, malformed lines and what the cap dropped reported. */
  scanListing(): Promise<Listing<ScanListing>> {
    return this.#channel.listing({ verb: 'LIST', line: 'LIST' }, (line) => parseScanLine(line));
  }

  listOne(msg: number): Promise<ScanListing> {
    return this.#channel.simple({ verb: 'LIST', line: `LIST ${messageNumber(msg)}` }, (s) =>
      parseScanLine(s.text),
    );
  }

  /** UIDL, strict, as list(). */
  async uidl(): Promise<UidListing[]> {
    return strict('UIDL', await this.uidListing());
  }

  /** UIDL as it came, as scanListing(). */
  uidListing(): Promise<Listing<UidListing>> {
    return this.#channel.listing({ verb: 'UIDL', line: 'UIDL' }, parseUidLine);
  }

  uidlOne(msg: number): Promise<UidListing> {
    return this.#channel.simple({ verb: 'UIDL', line: `UIDL ${messageNumber(msg)}` }, (s) =>
      parseUidLine(s.text),
    );
  }

  /** The message's exact bytes as a stream. Consume (or destroy) it: later replies queue behind it. */
  retr(msg: number): Promise<Readable> {
    return this.#channel.body({ verb: 'RETR', line: `RETR ${messageNumber(msg)}` });
  }

  top(msg: number, lines: number): Promise<Readable> {
    if (!Number.isSafeInteger(lines) || lines < 0) {
      throw new Pop3UsageError('INVALID_ARGUMENT', `TOP line count must be >= 0, got ${lines}`);
    }
    return this.#channel.body({ verb: 'TOP', line: `TOP ${messageNumber(msg)} ${lines}` });
  }

  dele(msg: number): Promise<void> {
    return this.#channel.simple(
      { verb: 'DELE', line: `DELE ${messageNumber(msg)}` },
      () => undefined,
    );
  }

  rset(): Promise<void> {
    return this.#channel.simple({ verb: 'RSET', line: 'RSET', barrier: true }, () => undefined);
  }

  noop(): Promise<void> {
    return this.#channel.simple({ verb: 'NOOP', line: 'NOOP' }, () => undefined);
  }

  /**
   * Retrieves messages in order, keeping up to the pipeline window of RETRs in flight. Each body must be
   * consumed before the next one can arrive; a -ERR for one message is yielded as `error`, not thrown.
   *
   * Commands issued inside the loop (a DELE once a message is stored) queue behind the RETRs already
   * in flight: collect their promises and await them after the loop, never inside it, or the loop
   * waits on itself.
   */
  async *retrieveMany(msgs: Iterable<number>): AsyncGenerator<RetrieveResult, void, undefined> {
    const ahead = this.#pipelining ? (this.#options.pipelineWindow ?? DEFAULT_PIPELINE_WINDOW) : 1;
    const pending: Array<{ msg: number; reply: Promise<Readable> }> = [];
    const source = msgs[Symbol.iterator]();
    const refill = (): void => {
      while (pending.length < ahead) {
        const next = source.next();
        if (next.done) return;
        const reply = this.retr(next.value);
        // Awaited in order below; this only keeps a failure of a later one from being "unhandled" first.
        reply.catch(() => {});
        pending.push({ msg: next.value, reply });
      }
    };
    try {
      refill();
      for (let head = pending.shift(); head !== undefined; head = pending.shift()) {
        let body: Readable;
        try {
          body = await head.reply;
        } catch (err) {
          if (!(err instanceof Pop3ServerError)) throw err;
          refill();
          yield { msg: head.msg, error: err };
          continue;
        }
        refill();
        yield { msg: head.msg, body };
      }
    } finally {
      // Replies the caller will never read still have to be drained to keep the session in step.
      for (const rest of pending)
        rest.reply.then(
          (body) => body.destroy(),
          () => {},
        );
    }
  }

  /** Ends the session with QUIT: the server now deletes what was marked (RFC 1939 s.6). */
  async quit(): Promise<void> {
    try {
      await this.#channel.simple({ verb: 'QUIT', line: 'QUIT', barrier: true }, () => undefined);
    } finally {
      this.#channel.shutdown(
        new Pop3UsageError('SESSION_CLOSED', 'the POP3 session has ended (QUIT sent)'),
      );
    }
  }

  /** Drops the connection without QUIT: the server deletes nothing (RFC 1939 s.6). */
  close(): void {
    this.#channel.shutdown(
      new Pop3UsageError(
        'SESSION_CLOSED',
        'the POP3 session was closed without QUIT; nothing was deleted',
      ),
    );
  }

  // ---- session set-up ---------------------------------------------------------------------------

  static #transport(options: Pop3ClientOptions): TransportOptions {
    return {
      host: options.host,
      port: options.port,
      tls: options.tls,
      insecure: options.insecure ?? false,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.pinSha256 === undefined ? {} : { pinSha256: options.pinSha256 }),
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    };
  }

  async #open(): Promise<void> {
    const options = this.#options;
    const channel = this.#channel;
    const transport = Pop3Client.#transport(options);
    if (options.deadline !== undefined) channel.armDeadline(options.deadline);
    const tcp = await openTcp(transport, transport.connectTimeoutMs, channel.failed);
    channel.hold(tcp);
    channel.assertUsable();
    if (options.tls === 'implicit')
      channel.attach(await startTls(tcp, transport, transport.connectTimeoutMs, channel.failed));
    else channel.attach(tcp);

    const greeting = await channel.readStatus(
      'greeting',
      false,
      options.greetingTimeoutMs ?? DEFAULT_GREETING_TIMEOUT_MS,
    );
    if (greeting.kind !== 'ok') throw channel.errorFor({ verb: 'greeting', line: '' }, greeting);
    this.#greeting = greeting.text;

    this.#capabilities = await this.#capa();
    if (options.tls === 'starttls') {
      await upgradeToTls(channel, this.#capabilities, tcp, transport);
      this.#capabilities = new Capabilities(null);
      this.#capabilities = await this.#capa();
    }
    this.#utf8Mode = await enterUtf8(channel, this.#capabilities);
    this.#authMethod = await logIn(channel, {
      credentials: options.credentials,
      capabilities: this.#capabilities,
      greeting: this.#greeting,
      utf8Mode: this.#utf8Mode,
    });
    // Servers may announce more after login (Gmail adds TOP and PIPELINING then). Every login
    // command is a barrier and this CAPA waits for the last login reply, so nothing is ever
    // pipelined across authentication: Courier POP3 1.0.16 silently drops commands that arrive in
    // the same read as PASS, and Cyrus 3.6.1 those behind a successful AUTH PLAIN (a QUIT dropped
    // there would lose the DELEs it was meant to commit).
    const after = await this.#capa();
    if (after.supported) this.#capabilities = after;
    this.#pipelining = (options.pipelining ?? true) && this.#capabilities.has('PIPELINING');
    channel.resizeWindow(
      this.#pipelining ? (options.pipelineWindow ?? DEFAULT_PIPELINE_WINDOW) : 1,
    );
  }

  async #capa(): Promise<Capabilities> {
    try {
      const lines = await this.#channel.listing(
        { verb: 'CAPA', line: 'CAPA', barrier: true },
        (l) => l,
      );
      return new Capabilities(lines.entries);
    } catch (err) {
      if (err instanceof Pop3ServerError) return new Capabilities(null);
      throw err;
    }
  }
}
