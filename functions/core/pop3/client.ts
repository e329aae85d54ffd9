import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Capabilities } from './capabilities.js';
import { CommandWindow } from './command-window.js';
import { DotUnstuffer } from './dot-unstuffer.js';
import {
  Pop3AuthError,
  Pop3Error,
  type Pop3ErrorCode,
  Pop3ProtocolError,
  Pop3ServerError,
  Pop3TimeoutError,
  Pop3TlsError,
  Pop3UsageError,
} from './errors.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GREETING_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PIPELINE_WINDOW,
  MAX_COMMAND_LINE_OCTETS,
  MAX_LISTING_ENTRIES,
  MAX_SASL_LINE_OCTETS,
  MAX_STATUS_LINE_OCTETS,
} from './limits.js';
import {
  type Listing,
  ListingCollector,
  parseScanLine,
  parseStat,
  parseUidLine,
  type ScanListing,
  type UidListing,
} from './listing.js';
import { apopDigest, apopTimestamp, saslPlainResponse, xoauth2Response } from './sasl.js';
import { SecretScrubber } from './secret-scrubber.js';
import { parseStatusLine, type StatusLine } from './status-line.js';
import {
  assertTransportAllowed,
  openTcp,
  startTls,
  type TlsMode,
  type TransportOptions,
} from './transport.js';
import { WireReader } from './wire-reader.js';

/** How the client logs in (POP3 USER/PASS, APOP, SASL PLAIN or XOAUTH2); not the config's `auth`. */
export type LoginMechanism = 'user' | 'apop' | 'plain' | 'xoauth2';

/**
 * RFC 6856 UTF-8 mode of the session: 'active' (the server accepted UTF8), 'refused' (it listed UTF8
 * in CAPA but answered -ERR), 'not-offered' (no UTF8 in CAPA, or no CAPA at all).
 */
export type Utf8Mode = 'active' | 'refused' | 'not-offered';

export type Pop3Credentials =
  | { user: string; password: string; method?: 'auto' | 'user' | 'apop' | 'plain' }
  | { user: string; accessToken: string; method?: 'auto' | 'xoauth2' };

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

interface CommandSpec {
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

interface Reply<T> {
  value: T;
  /** Settles when the whole reply has been read off the wire (for a body: when it has been consumed). */
  settled: Promise<void>;
}

const DONE: Promise<void> = Promise.resolve();
const BODY_HIGH_WATER = 256 * 1024;
/** Characters of a failed login's reply kept in the error (and so in the run record). */
const MAX_LOGIN_REPLY_TEXT = 120;
/** A SASL exchange longer than this many continuations is a server leading us on. */
const MAX_SASL_ROUNDS = 4;

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

function lineSafe(value: string, what: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new Pop3UsageError(
      'INVALID_ARGUMENT',
      `the ${what} contains a line break or NUL, which would inject POP3 commands; remove it`,
    );
  }
  return value;
}

/**
 * A POP3 client session (RFC 1939, 2449, 2595, 5034). Public verbs are one or two lines over a few private
 * primitives: #exec (ordered, optionally pipelined command/reply), #readStatus, #readListing and #openBody
 * (a streaming, dot-unstuffed message body).
 *
 * Deletion safety rests on the protocol: DELE only marks, QUIT commits. `close()` (or any failure,
 * timeout or deadline) destroys the socket without QUIT, so nothing marked is deleted.
 */
export class Pop3Client {
  readonly #options: Pop3ClientOptions;
  readonly #reader: WireReader;
  readonly #window = new CommandWindow(1);
  readonly #secrets = new SecretScrubber();
  readonly #bodies = new Set<Readable>();
  #socket: Socket | TLSSocket | null = null;
  #turnTail: Promise<void> = DONE;
  #failure: Pop3Error | null = null;
  #deadlineTimer: NodeJS.Timeout | null = null;
  #capabilities = new Capabilities(null);
  #greeting = '';
  #authMethod: LoginMechanism | null = null;
  #utf8Mode: Utf8Mode = 'not-offered';
  #pipelining = false;

  private constructor(options: Pop3ClientOptions) {
    this.#options = options;
    const creds = options.credentials;
    const secret = 'password' in creds ? creds.password : creds.accessToken;
    this.#secrets.add(secret);
    this.#reader = new WireReader(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, (ms, what) =>
      this.#fail(
        new Pop3TimeoutError(
          what.startsWith('greeting') ? 'greeting' : 'reply',
          `the POP3 server sent nothing for ${ms} ms while a ${what} was expected`,
        ),
      ),
    );
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
      throw client.#fail(err);
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

  /** Whether the server serves this session in RFC 6856 UTF-8 mode (see #enterUtf8). */
  get utf8Mode(): Utf8Mode {
    return this.#utf8Mode;
  }

  /** Whether this session pipelines commands (server advertises PIPELINING and it was not turned off). */
  get pipelining(): boolean {
    return this.#pipelining;
  }

  stat(): Promise<{ count: number; octets: number }> {
    return this.#simple({ verb: 'STAT', line: 'STAT' }, (s) => parseStat(s.text));
  }

  /** LIST, strict: a malformed line or a listing over the entry cap is a PROTOCOL_VIOLATION. */
  async list(): Promise<ScanListing[]> {
    return strict('LIST', await this.scanListing());
  }

  /** LIST as it came: entries up to the cap, malformed lines and what the cap dropped reported. */
  scanListing(): Promise<Listing<ScanListing>> {
    return this.#listing({ verb: 'LIST', line: 'LIST' }, (line) => parseScanLine(line));
  }

  listOne(msg: number): Promise<ScanListing> {
    return this.#simple({ verb: 'LIST', line: `LIST ${messageNumber(msg)}` }, (s) =>
      parseScanLine(s.text),
    );
  }

  /** UIDL, strict, as list(). */
  async uidl(): Promise<UidListing[]> {
    return strict('UIDL', await this.uidListing());
  }

  /** UIDL as it came, as scanListing(). */
  uidListing(): Promise<Listing<UidListing>> {
    return this.#listing({ verb: 'UIDL', line: 'UIDL' }, parseUidLine);
  }

  uidlOne(msg: number): Promise<UidListing> {
    return this.#simple({ verb: 'UIDL', line: `UIDL ${messageNumber(msg)}` }, (s) =>
      parseUidLine(s.text),
    );
  }

  /** The message's exact bytes as a stream. Consume (or destroy) it: later replies queue behind it. */
  retr(msg: number): Promise<Readable> {
    return this.#body({ verb: 'RETR', line: `RETR ${messageNumber(msg)}` });
  }

  top(msg: number, lines: number): Promise<Readable> {
    if (!Number.isSafeInteger(lines) || lines < 0) {
      throw new Pop3UsageError('INVALID_ARGUMENT', `TOP line count must be >= 0, got ${lines}`);
    }
    return this.#body({ verb: 'TOP', line: `TOP ${messageNumber(msg)} ${lines}` });
  }

  dele(msg: number): Promise<void> {
    return this.#simple({ verb: 'DELE', line: `DELE ${messageNumber(msg)}` }, () => undefined);
  }

  rset(): Promise<void> {
    return this.#simple({ verb: 'RSET', line: 'RSET', barrier: true }, () => undefined);
  }

  noop(): Promise<void> {
    return this.#simple({ verb: 'NOOP', line: 'NOOP' }, () => undefined);
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
      await this.#simple({ verb: 'QUIT', line: 'QUIT', barrier: true }, () => undefined);
    } finally {
      this.#shutdown(
        new Pop3UsageError('SESSION_CLOSED', 'the POP3 session has ended (QUIT sent)'),
      );
    }
  }

  /** Drops the connection without QUIT: the server deletes nothing (RFC 1939 s.6). */
  close(): void {
    this.#shutdown(
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
    const transport = Pop3Client.#transport(options);
    if (options.deadline !== undefined) this.#armDeadline(options.deadline);
    const tcp = await openTcp(transport, transport.connectTimeoutMs);
    this.#socket = tcp;
    if (this.#failure) throw this.#failure;
    if (options.tls === 'implicit')
      this.#attach(await startTls(tcp, transport, transport.connectTimeoutMs));
    else this.#attach(tcp);

    const greeting = await this.#readStatus(
      'greeting',
      false,
      options.greetingTimeoutMs ?? DEFAULT_GREETING_TIMEOUT_MS,
    );
    if (greeting.kind !== 'ok') throw this.#errorFor({ verb: 'greeting', line: '' }, greeting);
    this.#greeting = greeting.text;

    this.#capabilities = await this.#capa();
    if (options.tls === 'starttls') {
      await this.#stls(tcp, transport);
      this.#capabilities = await this.#capa();
    }
    this.#utf8Mode = await this.#enterUtf8();
    this.#authMethod = await this.#authenticate();
    // Servers may announce more after login (Gmail adds TOP and PIPELINING then). Every login
    // command is a barrier and this CAPA waits for the last login reply, so nothing is ever
    // pipelined across authentication: Courier POP3 1.0.16 silently drops commands that arrive in
    // the same read as PASS, and Cyrus 3.6.1 those behind a successful AUTH PLAIN (a QUIT dropped
    // there would lose the DELEs it was meant to commit).
    const after = await this.#capa();
    if (after.supported) this.#capabilities = after;
    this.#pipelining = (options.pipelining ?? true) && this.#capabilities.has('PIPELINING');
    this.#window.resize(this.#pipelining ? (options.pipelineWindow ?? DEFAULT_PIPELINE_WINDOW) : 1);
  }

  #attach(socket: Socket | TLSSocket): void {
    this.#socket = socket;
    this.#reader.attach(socket);
  }

  #armDeadline(deadline: number): void {
    const fire = (): void => {
      this.#fail(
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

  async #capa(): Promise<Capabilities> {
    try {
      const lines = await this.#listing({ verb: 'CAPA', line: 'CAPA', barrier: true }, (l) => l);
      return new Capabilities(lines.entries);
    } catch (err) {
      if (err instanceof Pop3ServerError) return new Capabilities(null);
      throw err;
    }
  }

  /**
   * RFC 6856 s.2: a server that lists UTF8 accepts the UTF8 command in the AUTHORIZATION state,
   * before authentication, and only then may serve mail with raw UTF-8 headers as it is. Without
   * it, a server may serve such mail altered or substituted (RFC 6856 s.3 leaves the choice to the
   * server): Courier POP3 1.0.16 serves a generated "Cannot display Unicode content" notice in
   * its place, which an archiver would store and then delete the original. A -ERR leaves the
   * session in its old mode; the run carries on and records it.
   */
  async #enterUtf8(): Promise<Utf8Mode> {
    if (!this.#capabilities.has('UTF8')) return 'not-offered';
    try {
      await this.#simple({ verb: 'UTF8', line: 'UTF8', barrier: true }, () => undefined);
      return 'active';
    } catch (err) {
      if (err instanceof Pop3ServerError) return 'refused';
      throw err;
    }
  }

  /**
   * A user name outside ASCII needs SASL (whose identities are UTF-8 by definition, RFC 4616 s.2)
   * or a server in UTF-8 mode that lists "UTF8 USER" (RFC 6856 s.2); sent any other way, the server
   * would read the octets in a charset of its own choosing and the login could match another
   * account or fail in a way that counts against this one.
   */
  #assertUserNameSendable(method: 'user' | 'apop'): void {
    const user = this.#options.credentials.user;
    if (!/[^\p{ASCII}]/u.test(user)) return;
    const utf8User =
      this.#utf8Mode === 'active' &&
      this.#capabilities.args('UTF8').some((arg) => arg.toUpperCase() === 'USER');
    if (utf8User) return;
    throw new Pop3Error(
      'CAPABILITY_MISSING',
      `the user name is not ASCII and the server does not accept UTF-8 user names for ${method.toUpperCase()} (RFC 6856 "UTF8 USER"); use SASL PLAIN if the server offers it, or the ASCII form of the login`,
    );
  }

  async #stls(tcp: Socket, transport: TransportOptions): Promise<void> {
    if (this.#capabilities.supported && !this.#capabilities.has('STLS')) {
      throw new Pop3TlsError(
        'STLS_UNAVAILABLE',
        `${transport.host} does not offer STLS; refusing to continue in cleartext (use tls "implicit" on port 995 if the server has it)`,
      );
    }
    try {
      await this.#simple({ verb: 'STLS', line: 'STLS', barrier: true }, () => undefined);
    } catch (err) {
      if (!(err instanceof Pop3ServerError)) throw err;
      throw new Pop3TlsError(
        'STLS_UNAVAILABLE',
        `${transport.host} refused STLS (${err.serverText}); refusing to continue in cleartext`,
        { cause: err },
      );
    }
    // Bytes after "+OK" but before the handshake were sent in cleartext by whoever sits on the path:
    // taking them as replies would let an attacker inject responses into the TLS session.
    const leftover = this.#reader.detach();
    if (leftover > 0) {
      throw new Pop3ProtocolError(
        'PROTOCOL_VIOLATION',
        `the server sent ${leftover} octets after accepting STLS and before TLS started; possible response injection, refusing`,
      );
    }
    this.#attach(await startTls(tcp, transport, transport.connectTimeoutMs));
    this.#capabilities = new Capabilities(null);
  }

  #chooseAuth(): LoginMechanism {
    const creds = this.#options.credentials;
    const caps = this.#capabilities;
    const sasl = caps.saslMechanisms;
    if ('accessToken' in creds) {
      if (caps.has('SASL') && !sasl.has('XOAUTH2')) {
        throw new Pop3Error(
          'CAPABILITY_MISSING',
          `the server does not offer SASL XOAUTH2 (it offers: ${[...sasl].join(' ') || 'none'}); use a password instead of a token`,
        );
      }
      return 'xoauth2';
    }
    const method = creds.method ?? 'auto';
    if (method === 'plain' && caps.supported && !sasl.has('PLAIN')) {
      // Asking anyway would turn the server's "not implemented" into a credentials failure.
      throw new Pop3Error(
        'CAPABILITY_MISSING',
        `the server does not offer SASL PLAIN (it offers: ${[...sasl].join(' ') || 'no SASL'}); use method "user"`,
      );
    }
    if (method !== 'auto') return method;
    if (sasl.has('PLAIN')) return 'plain';
    if (!caps.supported || caps.has('USER')) return 'user';
    if (apopTimestamp(this.#greeting) !== null) return 'apop';
    return 'user';
  }

  async #authenticate(): Promise<LoginMechanism> {
    const creds = this.#options.credentials;
    const method = this.#chooseAuth();
    const user = creds.user;
    if ('accessToken' in creds) {
      await this.#sasl('XOAUTH2', xoauth2Response(user, creds.accessToken));
      return method;
    }
    if (method === 'user' || method === 'apop') this.#assertUserNameSendable(method);
    switch (method) {
      case 'user':
        await this.#simple(
          { verb: 'USER', line: `USER ${user}`, barrier: true, login: true },
          () => undefined,
        );
        await this.#simple(
          {
            verb: 'PASS',
            line: `PASS ${lineSafe(creds.password, 'password')}`,
            traced: 'PASS ***',
            barrier: true,
            login: true,
          },
          () => undefined,
        );
        break;
      case 'apop': {
        const timestamp = apopTimestamp(this.#greeting);
        if (timestamp === null) {
          throw new Pop3Error(
            'CAPABILITY_MISSING',
            'APOP was requested but the server greeting has no <timestamp>; use method "user" or "plain"',
          );
        }
        const digest = apopDigest(timestamp, creds.password);
        this.#secrets.add(digest);
        await this.#simple(
          {
            verb: 'APOP',
            line: `APOP ${user} ${digest}`,
            traced: `APOP ${user} ***`,
            barrier: true,
            login: true,
          },
          () => undefined,
        );
        break;
      }
      case 'plain':
        await this.#sasl('PLAIN', saslPlainResponse(user, creds.password));
        break;
      default:
        throw new Pop3UsageError(
          'INVALID_ARGUMENT',
          `auth method ${method} needs an access token, not a password`,
        );
    }
    return method;
  }

  /**
   * RFC 5034 AUTH. The initial response rides on the command only if the whole line fits in 255 octets;
   * otherwise (every Microsoft 365 token) the client waits for "+ " and sends it on its own line.
   */
  async #sasl(mechanism: string, response: string): Promise<void> {
    this.#secrets.add(response);
    const oneStep = `AUTH ${mechanism} ${response}`;
    const fits = Buffer.byteLength(oneStep) + 2 <= MAX_COMMAND_LINE_OCTETS;
    const spec: CommandSpec = {
      verb: 'AUTH',
      line: fits ? oneStep : `AUTH ${mechanism}`,
      traced: fits ? `AUTH ${mechanism} ***` : `AUTH ${mechanism}`,
      barrier: true,
      login: true,
      allowContinuation: true,
    };
    let sent = fits;
    let detail = '';
    await this.#exec(spec, async (first) => {
      let status = first;
      for (let round = 0; status.kind === 'continuation'; round += 1) {
        if (round >= MAX_SASL_ROUNDS) {
          throw new Pop3ProtocolError(
            'PROTOCOL_VIOLATION',
            `the server kept the ${mechanism} exchange going past ${MAX_SASL_ROUNDS} rounds`,
          );
        }
        if (!sent) {
          this.#writeLine(response, '*** (SASL response)');
          sent = true;
        } else {
          // A challenge after our response carries the error (XOAUTH2 sends JSON); an empty line asks
          // for the final -ERR.
          detail = this.#scrub(
            Buffer.from(status.text, 'base64')
              .toString('utf8')
              .replace(/[^\x20-\x7e]/g, '?'),
          );
          this.#writeLine('', '(empty SASL response)');
        }
        status = await this.#readStatus('AUTH reply', true);
      }
      if (status.kind === 'err') throw this.#errorFor(spec, status, detail);
      return { value: undefined, settled: DONE };
    });
  }

  // ---- command/reply primitives -----------------------------------------------------------------

  #simple<T>(
    spec: CommandSpec,
    parse: (status: Extract<StatusLine, { kind: 'ok' }>) => T,
  ): Promise<T> {
    return this.#exec(spec, (status) => {
      if (status.kind !== 'ok')
        throw new Pop3ProtocolError(
          'PROTOCOL_VIOLATION',
          `unexpected SASL continuation after ${spec.verb}`,
        );
      return { value: parse(status), settled: DONE };
    });
  }

  /** A multi-line listing, parsed line by line as it arrives (see ListingCollector). */
  #listing<T>(spec: CommandSpec, parse: (line: string) => T): Promise<Listing<T>> {
    return this.#exec(spec, async () => {
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

  #body(spec: CommandSpec): Promise<Readable> {
    return this.#exec(spec, () => this.#openBody(`${spec.verb} body`));
  }

  /**
   * The rest of a multi-line reply as a Readable that pulls from the socket only as fast as it is read.
   * Destroying it early drains the remainder in the background so the next reply lines up.
   */
  #openBody(what: string): Reply<Readable> {
    const reader = this.#reader;
    const unstuffer = new DotUnstuffer();
    let pulls: Promise<unknown> = DONE;
    const pull = (): Promise<Buffer | null> => {
      const next = pulls.then(() => (unstuffer.done ? null : reader.readBody(unstuffer, what)));
      pulls = next.catch(() => {});
      return next;
    };
    let finish: () => void = () => {};
    const settled = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const bodies = this.#bodies;
    const fail = (err: unknown): Error => this.#fail(err);
    const stream = new Readable({
      highWaterMark: BODY_HIGH_WATER,
      read() {
        pull().then(
          (chunk) => {
            if (chunk === null) {
              bodies.delete(stream);
              finish();
              stream.push(null);
            } else {
              stream.push(chunk);
            }
          },
          (err: unknown) => {
            bodies.delete(stream);
            finish();
            stream.destroy(fail(err));
          },
        );
      },
      destroy(err, callback) {
        bodies.delete(stream);
        if (unstuffer.done) {
          finish();
        } else {
          (async () => {
            try {
              while ((await pull()) !== null) {}
            } catch (drainErr) {
              fail(drainErr);
            } finally {
              finish();
            }
          })();
        }
        callback(err);
      },
    });
    // Errors reach consumers through pipeline(), for-await and finished(); this listener only keeps a
    // session failure from crashing the process through a body nobody has started reading yet.
    stream.on('error', () => {});
    bodies.add(stream);
    return { value: stream, settled };
  }

  /**
   * Sends one command and handles its reply in order. Commands are written as soon as the window has
   * room (pipelining) but replies are read strictly in order: each waits for the previous reply to be
   * fully consumed. A -ERR rejects only its own command; anything else that breaks the stream fails
   * the session.
   */
  async #exec<T>(
    spec: CommandSpec,
    onReply: (status: StatusLine) => Reply<T> | Promise<Reply<T>>,
  ): Promise<T> {
    this.#assertUsable();
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
      this.#assertUsable();
      this.#writeLine(spec.line, spec.traced ?? spec.line, MAX_COMMAND_LINE_OCTETS);
      await previous;
      this.#assertUsable();
      let reply: Reply<T>;
      try {
        const status = await this.#readStatus(spec.verb, spec.allowContinuation ?? false);
        if (status.kind === 'err') throw this.#errorFor(spec, status);
        reply = await onReply(status);
      } catch (err) {
        if (err instanceof Pop3ServerError || err instanceof Pop3UsageError) throw err;
        throw this.#fail(err);
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

  async #readStatus(
    what: string,
    allowContinuation: boolean,
    timeoutMs?: number,
  ): Promise<StatusLine> {
    const max = allowContinuation ? MAX_SASL_LINE_OCTETS : MAX_STATUS_LINE_OCTETS;
    const line = await this.#reader.readLine(max, `${what} status line`, timeoutMs);
    const status = parseStatusLine(line, allowContinuation);
    this.#options.trace?.('receive', this.#scrub(line.toString('latin1')));
    return status;
  }

  #writeLine(line: string, traced: string, maxOctets = Number.POSITIVE_INFINITY): void {
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

  #errorFor(
    spec: CommandSpec,
    status: { text: string; responseCode?: string | null },
    detail = '',
  ): Pop3ServerError {
    const responseCode = status.responseCode ?? null;
    const code = codeFor(responseCode, spec.login ?? false);
    const scrubbed = this.#scrub(detail ? `${status.text} (${detail})` : status.text);
    // After a failed login the server's words are the likeliest place for an echoed credential in
    // a form no scrubbing foresaw: keep only enough to tell "locked" from "bad password".
    const text = spec.login ? scrubbed.slice(0, MAX_LOGIN_REPLY_TEXT) : scrubbed;
    const details = { command: spec.verb, serverText: text, responseCode };
    return code === 'AUTH_FAILED'
      ? new Pop3AuthError(code, details)
      : new Pop3ServerError(code, details);
  }

  #scrub(text: string): string {
    return this.#secrets.scrub(text);
  }

  #assertUsable(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Records the first failure, tears the connection down and wakes everything waiting. */
  #fail(err: unknown): Pop3Error {
    if (this.#failure) return this.#failure;
    const failure =
      err instanceof Pop3Error
        ? err
        : new Pop3ProtocolError('PROTOCOL_VIOLATION', `POP3 session failed: ${String(err)}`, {
            cause: err,
          });
    this.#shutdown(failure);
    return failure;
  }

  #shutdown(reason: Pop3Error): void {
    if (!this.#failure) this.#failure = reason;
    if (this.#deadlineTimer) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = null;
    this.#reader.fail(this.#failure);
    this.#window.refuseAll(this.#failure);
    this.#socket?.destroy();
    for (const body of this.#bodies) body.destroy(this.#failure);
    this.#bodies.clear();
  }
}
