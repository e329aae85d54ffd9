/**
 * An in-process, scriptable POP3 server: the test double for faults that Dovecot will not produce
 * on demand (a reply cut mid-message, a reset after PIPELINING, odd UIDLs, a bad XOAUTH2 token).
 * Default handlers follow RFC 1939/2449/5034 against an in-memory mailbox; any verb can be replaced
 * through `handlers`, and `ctx.fallback()` runs the default from inside an override.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

export interface ScriptedMessage {
  uid: string;
  /** Exact message bytes, CRLF lines. */
  body: Buffer;
}

export interface ScriptedServerOptions {
  /** Full greeting line without CRLF; `null` accepts the connection and never greets. */
  greeting?: string | null;
  capabilities?: string[];
  /** If set, CAPA answers this after successful auth (Gmail announces TOP and PIPELINING only then). */
  capabilitiesAfterLogin?: string[];
  messages?: ScriptedMessage[];
  /** user -> password, also the APOP secret. */
  users?: Record<string, string>;
  /** user -> OAuth access token accepted by XOAUTH2. */
  tokens?: Record<string, string>;
  /** Implicit TLS: every connection is TLS from the first byte. */
  tls?: { key: string; cert: string };
  /** STLS offered on the plain listener. */
  stls?: { key: string; cert: string };
  /** Key = upper-case verb. */
  handlers?: Partial<Record<string, Handler>>;
}

export type Handler = (ctx: CommandContext) => void | Promise<void>;

export interface CommandContext {
  verb: string;
  args: string;
  /** Raw command line without CRLF. */
  line: string;
  session: ScriptedSession;
  server: ScriptedServer;
  ok(text?: string): void;
  err(text?: string): void;
  fallback(): Promise<void>;
  /**
   * The next line the client sends (a SASL continuation, say), taken from the same ordered queue
   * the command loop reads; `null` once the connection has closed.
   */
  readLine(): Promise<string | null>;
}

export interface ScriptedSession {
  readonly id: number;
  authenticated: boolean;
  user: string | null;
  /** Every line received in this session, in order, SASL continuation lines included. */
  readonly commands: string[];
  /** Message numbers marked by DELE in this session. */
  deleted: Set<number>;
  /** The maildrop as it was at login: message n is `mailbox[n - 1]` for the whole session. */
  readonly mailbox: readonly ScriptedMessage[];
  /** True once TLS is in place (implicit TLS, or after STLS). */
  readonly secure: boolean;
  write(data: string | Buffer): Promise<void>;
  writeLine(line: string): Promise<void>;
  /**
   * Resolves when everything written so far (including `ctx.ok`/`ctx.err`, which do not wait) has
   * been flushed: call before `destroy()` when a reply just queued must reach the client first.
   */
  flushed(): Promise<void>;
  end(): void;
  destroy(): void;
  readonly closed: Promise<void>;
}

export interface ScriptedServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly sessions: ScriptedSession[];
  /** Live mailbox: tests may push to it between sessions. */
  readonly messages: ScriptedMessage[];
  readonly expunged: string[];
  /**
   * Hands out sessions in connection order, each once: resolves at once if a connection was
   * accepted that no earlier call returned, so connect-then-await cannot race.
   */
  nextSession(): Promise<ScriptedSession>;
  close(): Promise<void>;
}

const DEFAULT_GREETING = '+OK scripted POP3 ready <1896.697170952@scripted.test>';
const DEFAULT_CAPABILITIES = [
  'TOP',
  'UIDL',
  'USER',
  'PIPELINING',
  'RESP-CODES',
  'AUTH-RESP-CODE',
  'SASL PLAIN XOAUTH2',
];
const AUTH_FAILED = '[AUTH] Authentication failed.';
const CRLF = Buffer.from('\r\n');
const TERMINATOR = Buffer.from('.\r\n');
const DOT = 0x2e;
const CR = 0x0d;
const LF = 0x0a;

export function dotStuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let lineStart = 0; lineStart < body.length; ) {
    if (body[lineStart] === DOT) {
      // Emit up to and including the dot, then the dot again: the client strips one.
      parts.push(body.subarray(start, lineStart + 1), Buffer.from('.'));
      start = lineStart + 1;
    }
    const next = body.indexOf(CRLF, lineStart);
    if (next === -1) break;
    lineStart = next + 2;
  }
  parts.push(body.subarray(start));
  const endsWithCrlf =
    body.length >= 2 && body[body.length - 2] === CR && body[body.length - 1] === LF;
  if (body.length > 0 && !endsWithCrlf) parts.push(CRLF);
  parts.push(TERMINATOR);
  return Buffer.concat(parts);
}

/** Headers, the blank line, then at most `lines` body lines, as TOP returns them. */
function topOf(body: Buffer, lines: number): Buffer {
  let headerEnd: number;
  if (body.subarray(0, 2).equals(CRLF)) headerEnd = 2;
  else {
    const blank = body.indexOf('\r\n\r\n');
    if (blank === -1) return body;
    headerEnd = blank + 4;
  }
  let end = headerEnd;
  for (let i = 0; i < lines && end < body.length; i++) {
    const lf = body.indexOf(LF, end);
    end = lf === -1 ? body.length : lf + 1;
  }
  return body.subarray(0, end);
}

function decodeBase64(text: string): Buffer | null {
  if (text === '=') return Buffer.alloc(0);
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}

class Session implements ScriptedSession {
  authenticated = false;
  user: string | null = null;
  readonly commands: string[] = [];
  deleted = new Set<number>();
  mailbox: readonly ScriptedMessage[] = [];
  secure = false;
  /** USER given, PASS not yet. */
  pendingUser: string | null = null;
  readonly closed: Promise<void>;

  private socket: net.Socket;
  private readonly raw: net.Socket;
  private input: Buffer = Buffer.alloc(0);
  private readonly lines: string[] = [];
  private readonly lineWaiters: ((line: string | null) => void)[] = [];
  private lastWrite: Promise<void> = Promise.resolve();
  private isClosed = false;
  private stopping = false;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(
    readonly id: number,
    raw: net.Socket,
  ) {
    this.raw = raw;
    this.socket = raw;
    // A client that vanishes (ECONNRESET, EPIPE) is an expected event in these tests, not a failure.
    raw.on('error', () => {});
    // A reset discards whatever the kernel still holds unsent, and Nagle holds back a small reply
    // while an earlier one is unacknowledged: without this, 'write, then destroy()' loses the write.
    raw.setNoDelay(true);
    this.closed = new Promise((resolve) => {
      raw.once('close', () => {
        this.isClosed = true;
        for (const waiter of this.lineWaiters.splice(0)) waiter(null);
        resolve();
      });
    });
    raw.on('data', this.onData);
  }

  get active(): boolean {
    return !this.stopping && !this.isClosed;
  }

  write(data: string | Buffer): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return Promise.resolve();
    // Resolves even on a write error, or on close: the client hanging up mid-reply is the fault
    // under test, and the command loop must never wait on a write that can no longer finish.
    const written = new Promise<void>((resolve) => socket.write(data, () => resolve()));
    this.lastWrite = Promise.race([written, this.closed]);
    return this.lastWrite;
  }

  flushed(): Promise<void> {
    return this.lastWrite;
  }

  writeLine(line: string): Promise<void> {
    return this.write(`${line}\r\n`);
  }

  end(): void {
    this.stopping = true;
    this.socket.end();
  }

  destroy(): void {
    this.stopping = true;
    // The raw TCP socket even under TLS: TLSSocket.resetAndDestroy throws (its handle is not TCP).
    if (this.raw.destroyed) return;
    try {
      this.raw.resetAndDestroy();
    } catch {
      this.raw.destroy();
    }
    this.socket.destroy();
  }

  readLine(): Promise<string | null> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => this.lineWaiters.push(resolve));
  }

  /**
   * Swaps the transport for TLS. Must run in the same tick as the write of '+OK Begin TLS', before
   * the client can answer with its ClientHello, or those bytes would be read as a command.
   */
  startTls(options: { key: string; cert: string }): void {
    // Anything pipelined behind STLS arrived in cleartext; honouring it is the STARTTLS
    // command-injection bug, so it is dropped.
    this.lines.length = 0;
    this.input = Buffer.alloc(0);
    this.socket.off('data', this.onData);
    const secured = new tls.TLSSocket(this.socket, { isServer: true, ...options });
    secured.on('error', () => {});
    secured.once('secure', () => {
      this.secure = true;
    });
    secured.on('data', this.onData);
    this.socket = secured;
  }

  /** Resolves once the TLS handshake completes; false if the connection closed first. */
  handshake(): Promise<boolean> {
    if (this.secure) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.socket.once('secure', () => resolve(true));
      void this.closed.then(() => resolve(false));
    });
  }

  private receive(chunk: Buffer): void {
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    for (;;) {
      const lf = this.input.indexOf(LF);
      if (lf === -1) break;
      const end = lf > 0 && this.input[lf - 1] === CR ? lf - 1 : lf;
      const line = this.input.subarray(0, end).toString('utf8');
      this.input = this.input.subarray(lf + 1);
      this.commands.push(line);
      const waiter = this.lineWaiters.shift();
      if (waiter) waiter(line);
      else this.lines.push(line);
    }
  }
}

type Ctx = CommandContext & { session: Session };

function visible(session: Session): { n: number; message: ScriptedMessage }[] {
  return session.mailbox
    .map((message, i) => ({ n: i + 1, message }))
    .filter(({ n }) => !session.deleted.has(n));
}

export async function createScriptedServer(
  opts: ScriptedServerOptions = {},
): Promise<ScriptedServer> {
  const greeting = opts.greeting === undefined ? DEFAULT_GREETING : opts.greeting;
  const users = opts.users ?? { alice: 'wonderland' };
  const tokens = opts.tokens ?? {};
  const handlers = opts.handlers ?? {};
  const messages = [...(opts.messages ?? [])];
  const expunged: string[] = [];
  const sessions: Session[] = [];
  let handedOut = 0;
  const sessionWaiters: { resolve(s: ScriptedSession): void; reject(e: Error): void }[] = [];
  let closing = false;
  let closed: Promise<void> | null = null;

  function capabilities(session: Session): string[] {
    if (session.authenticated && opts.capabilitiesAfterLogin) return opts.capabilitiesAfterLogin;
    const base = opts.capabilities ?? DEFAULT_CAPABILITIES;
    const offerStls =
      opts.stls && !opts.tls && !session.secure && !session.authenticated && !has(base, 'STLS');
    return offerStls ? [...base, 'STLS'] : base;
  }

  function has(caps: readonly string[], tag: string): boolean {
    return caps.some((c) => c.split(' ')[0]?.toUpperCase() === tag);
  }

  function saslMechanisms(session: Session): string[] {
    const sasl = capabilities(session).find((c) => c.split(' ')[0]?.toUpperCase() === 'SASL');
    return sasl
      ? sasl
          .split(' ')
          .slice(1)
          .map((m) => m.toUpperCase())
      : [];
  }

  function login(session: Session, user: string): void {
    session.authenticated = true;
    session.user = user;
    session.pendingUser = null;
    session.mailbox = [...messages];
  }

  /** Parses a message-number argument; replies -ERR and returns null if it names nothing visible. */
  function messageArg(ctx: Ctx, arg: string | undefined): number | null {
    const n = arg !== undefined && /^\d+$/.test(arg) ? Number(arg) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > ctx.session.mailbox.length) {
      ctx.err('no such message');
      return null;
    }
    if (ctx.session.deleted.has(n)) {
      ctx.err(`message ${n} already deleted`);
      return null;
    }
    return n;
  }

  function multiline(session: Session, status: string, lines: string[]): Promise<void> {
    const body = lines.map((l) => `${l}\r\n`).join('');
    return session.write(`${status ? `+OK ${status}` : '+OK'}\r\n${body}.\r\n`);
  }

  /** Default SASL exchange step: the initial response, or '+ ' and the client's next line. */
  async function saslResponse(ctx: Ctx, initial: string | undefined): Promise<Buffer | null> {
    let text = initial;
    if (text === undefined) {
      await ctx.session.write('+ \r\n');
      const line = await ctx.readLine();
      if (line === null) return null;
      if (line === '*') {
        ctx.err('Authentication cancelled.');
        return null;
      }
      text = line;
    }
    const decoded = decodeBase64(text);
    if (!decoded) ctx.err('Invalid base64 data in SASL response.');
    return decoded;
  }

  const needsAuth = new Set(['STAT', 'LIST', 'UIDL', 'TOP', 'RETR', 'DELE', 'RSET', 'NOOP']);
  const authorizationOnly = new Set(['USER', 'PASS', 'APOP', 'AUTH', 'STLS']);

  const defaults: Record<string, (ctx: Ctx) => void | Promise<void>> = {
    CAPA: (ctx) => multiline(ctx.session, 'Capability list follows', capabilities(ctx.session)),

    USER: (ctx) => {
      if (!has(capabilities(ctx.session), 'USER')) return ctx.err('USER not supported');
      ctx.session.pendingUser = ctx.args;
      ctx.ok();
    },

    PASS: (ctx) => {
      const user = ctx.session.pendingUser;
      if (user === null) return ctx.err('USER first');
      if (users[user] === undefined || users[user] !== ctx.args) {
        ctx.session.pendingUser = null;
        return ctx.err(AUTH_FAILED);
      }
      login(ctx.session, user);
      ctx.ok('Logged in.');
    },

    APOP: (ctx) => {
      const timestamp = greeting === null ? undefined : /<[^>]*>/.exec(greeting)?.[0];
      if (timestamp === undefined) return ctx.err('APOP not available');
      const [user = '', digest = ''] = ctx.args.split(' ');
      const secret = users[user];
      const expected =
        secret === undefined
          ? null
          : createHash('md5')
              .update(timestamp + secret)
              .digest('hex');
      if (expected === null || digest.toLowerCase() !== expected) return ctx.err(AUTH_FAILED);
      login(ctx.session, user);
      ctx.ok('Logged in.');
    },

    AUTH: async (ctx) => {
      const [mechanism = '', initial] = ctx.args.split(' ').filter((s) => s !== '');
      const mechanisms = saslMechanisms(ctx.session);
      if (mechanism === '') return multiline(ctx.session, '', mechanisms);
      const mech = mechanism.toUpperCase();
      if (!mechanisms.includes(mech)) return ctx.err('Unsupported authentication mechanism.');
      const response = await saslResponse(ctx, initial);
      if (response === null) return;
      if (mech === 'PLAIN') {
        const [authzid = '', authcid = '', password = ''] = response.toString('utf8').split('\0');
        const good =
          users[authcid] !== undefined &&
          users[authcid] === password &&
          (authzid === '' || authzid === authcid);
        if (!good) return ctx.err(AUTH_FAILED);
        login(ctx.session, authcid);
        return ctx.ok('Logged in.');
      }
      if (mech === 'XOAUTH2') {
        const [userPart = '', authPart = '', ...rest] = response.toString('utf8').split('\x01');
        const user = userPart.startsWith('user=') ? userPart.slice(5) : undefined;
        const token = authPart.startsWith('auth=Bearer ') ? authPart.slice(12) : undefined;
        const wellFormed = rest.length === 2 && rest.every((r) => r === '');
        if (
          wellFormed &&
          user !== undefined &&
          tokens[user] !== undefined &&
          tokens[user] === token
        ) {
          login(ctx.session, user);
          return ctx.ok('Logged in.');
        }
        // Google's failure shape: a JSON error challenge the client must answer (with an empty
        // line) before the final -ERR arrives.
        const challenge = JSON.stringify({
          status: '401',
          schemes: 'bearer',
          scope: 'https://mail.google.com/',
        });
        await ctx.session.write(`+ ${Buffer.from(challenge).toString('base64')}\r\n`);
        if ((await ctx.readLine()) === null) return;
        return ctx.err(AUTH_FAILED);
      }
      ctx.err('Unsupported authentication mechanism.');
    },

    STLS: (ctx) => {
      const options = opts.stls;
      if (!options || opts.tls || ctx.session.secure) return ctx.err('STLS not available');
      void ctx.session.writeLine('+OK Begin TLS');
      ctx.session.startTls(options);
    },

    STAT: (ctx) => {
      const list = visible(ctx.session);
      ctx.ok(`${list.length} ${list.reduce((sum, { message }) => sum + message.body.length, 0)}`);
    },

    LIST: (ctx) => {
      if (ctx.args !== '') {
        const n = messageArg(ctx, ctx.args);
        if (n !== null) ctx.ok(`${n} ${ctx.session.mailbox[n - 1]?.body.length}`);
        return;
      }
      const list = visible(ctx.session);
      const total = list.reduce((sum, { message }) => sum + message.body.length, 0);
      return multiline(
        ctx.session,
        `${list.length} messages (${total} octets)`,
        list.map(({ n, message }) => `${n} ${message.body.length}`),
      );
    },

    UIDL: (ctx) => {
      if (!has(capabilities(ctx.session), 'UIDL')) return ctx.err('unknown command');
      if (ctx.args !== '') {
        const n = messageArg(ctx, ctx.args);
        if (n !== null) ctx.ok(`${n} ${ctx.session.mailbox[n - 1]?.uid}`);
        return;
      }
      return multiline(
        ctx.session,
        '',
        visible(ctx.session).map(({ n, message }) => `${n} ${message.uid}`),
      );
    },

    TOP: (ctx) => {
      if (!has(capabilities(ctx.session), 'TOP')) return ctx.err('unknown command');
      const [number, count] = ctx.args.split(' ');
      if (count === undefined || !/^\d+$/.test(count)) return ctx.err('syntax: TOP msg lines');
      const n = messageArg(ctx, number);
      const message = n === null ? undefined : ctx.session.mailbox[n - 1];
      if (!message) return;
      return ctx.session.write(
        Buffer.concat([Buffer.from('+OK\r\n'), dotStuff(topOf(message.body, Number(count)))]),
      );
    },

    RETR: (ctx) => {
      const n = messageArg(ctx, ctx.args);
      const message = n === null ? undefined : ctx.session.mailbox[n - 1];
      if (!message) return;
      return ctx.session.write(
        Buffer.concat([
          Buffer.from(`+OK ${message.body.length} octets\r\n`),
          dotStuff(message.body),
        ]),
      );
    },

    DELE: (ctx) => {
      const n = messageArg(ctx, ctx.args);
      if (n === null) return;
      ctx.session.deleted.add(n);
      ctx.ok(`message ${n} deleted`);
    },

    RSET: (ctx) => {
      ctx.session.deleted.clear();
      ctx.ok(`maildrop has ${ctx.session.mailbox.length} messages`);
    },

    NOOP: (ctx) => ctx.ok(),

    QUIT: async (ctx) => {
      const session = ctx.session;
      if (session.authenticated) {
        // UPDATE state: only now do DELE marks take effect (RFC 1939 s.6).
        for (const n of [...session.deleted].sort((a, b) => a - b)) {
          const message = session.mailbox[n - 1];
          const at = message ? messages.indexOf(message) : -1;
          if (message && at !== -1) {
            messages.splice(at, 1);
            expunged.push(message.uid);
          }
        }
        session.deleted.clear();
      }
      await session.writeLine('+OK scripted POP3 signing off');
      session.end();
    },
  };

  function runDefault(ctx: Ctx): void | Promise<void> {
    const session = ctx.session;
    if (needsAuth.has(ctx.verb) && !session.authenticated) return ctx.err('not authenticated');
    if (authorizationOnly.has(ctx.verb) && session.authenticated) {
      return ctx.err('already authenticated');
    }
    const handler = defaults[ctx.verb];
    if (!handler) return ctx.err('unknown command');
    return handler(ctx);
  }

  async function serve(session: Session): Promise<void> {
    if (opts.tls) {
      session.startTls(opts.tls);
      if (!(await session.handshake())) return;
    }
    if (greeting !== null) await session.writeLine(greeting);
    while (session.active) {
      const line = await session.readLine();
      if (line === null || !session.active) return;
      const space = line.indexOf(' ');
      const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
      const ctx: Ctx = {
        verb,
        args: space === -1 ? '' : line.slice(space + 1),
        line,
        session,
        server,
        ok: (text) => void session.writeLine(text ? `+OK ${text}` : '+OK'),
        err: (text) => void session.writeLine(text ? `-ERR ${text}` : '-ERR'),
        fallback: async () => {
          await runDefault(ctx);
          await session.flushed();
        },
        readLine: () => session.readLine(),
      };
      const override = handlers[verb];
      await (override ? override(ctx) : runDefault(ctx));
      // ok()/err() do not wait for the write: without this, a destroy() in the handler of a later
      // pipelined command could reset the connection before an earlier reply left the process.
      await session.flushed();
    }
  }

  let port = 0;
  const server: ScriptedServer = {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    sessions,
    messages,
    expunged,
    nextSession() {
      const ready = sessions[handedOut];
      if (ready) {
        handedOut++;
        return Promise.resolve(ready);
      }
      if (closing) return Promise.reject(new Error('scripted POP3 server is closed'));
      return new Promise((resolve, reject) => sessionWaiters.push({ resolve, reject }));
    },
    close() {
      if (closed) return closed;
      closing = true;
      const closedListener = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const session of sessions) session.destroy();
      for (const waiter of sessionWaiters.splice(0)) {
        waiter.reject(new Error('scripted POP3 server closed'));
      }
      closed = Promise.all([closedListener, ...sessions.map((s) => s.closed)]).then(() => {});
      return closed;
    },
  };

  const listener = net.createServer((socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    const session = new Session(sessions.length + 1, socket);
    sessions.push(session);
    const waiter = sessionWaiters.shift();
    if (waiter) {
      handedOut++;
      waiter.resolve(session);
    }
    // A throwing handler is a bug in the test: let it surface as an unhandled rejection, which
    // vitest reports and fails the run on, after the client has been cut off.
    serve(session).catch((error: unknown) => {
      session.destroy();
      throw error;
    });
  });

  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  port = address.port;
  return server;
}
