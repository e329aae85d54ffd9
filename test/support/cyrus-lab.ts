import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTestCertificates } from './certs.js';
import { freePorts, NotListeningError, readGreeting, waitForGreeting } from './lab-network.js';
import type { LabAccount, Pop3Lab } from './pop3-lab.js';

/**
 * Cyrus IMAP/POP3 3.6.1 (Debian 12's cyrus-pop3d) as a Pop3Lab, run from the root that
 * `.ci/install-pop3-servers.sh` unpacks with `dpkg-deb -x`: the packages conflict with Dovecot
 * (`Conflicts: pop3-server`), so they are never installed. Every Cyrus tool takes `-C imapd.conf`,
 * so no mount namespace is needed: the config moves every path into this run's temp dir.
 *
 * One `master` process (kept in the foreground as our child) runs pop3d on two loopback ports and
 * imapd on a unix socket that only the lab uses, to create mailboxes as the admin.
 */

/**
 * Debian's imapd.conf sets `popminpoll: 1`: one POP3 login a minute per mailbox. The lab sets 0,
 * or every test after the first login to an account would wait a minute. The other settings keep
 * Debian's values. With 0 the server advertises `LOGIN-DELAY 0`.
 */
export const CYRUS_LAB_POPMINPOLL_MINUTES = 0;

/**
 * Measured on 3.6.1 with Debian's `popminpoll: 1` (not the lab's setting): CAPA lists
 * `LOGIN-DELAY 60`, and a login to a mailbox whose last session ended with QUIT less than a minute
 * ago gets this reply to PASS at once (no pause), the connection staying open. Only QUIT records
 * the login time: a session dropped without QUIT does not delay the next one, and a second session
 * that logs in while the first is still open is let in.
 */
export const CYRUS_DEBIAN_LOGIN_DELAY_REPLY =
  '-ERR [LOGIN-DELAY] Logins must be at least 1 minute apart';

const HOST = '127.0.0.1';
const SERVERNAME = 'localhost';
const ADMIN = 'cyrus';
const HOW_TO_FIX =
  'Run `.ci/install-pop3-servers.sh` as root (it unpacks cyrus-pop3d, cyrus-imapd, cyrus-admin and ' +
  'sasl2-bin into $POPVAULT_POP3_SERVERS/cyrus, default /opt/popvault-pop3-servers/cyrus), then ' +
  'run the tests as root.';
// master runs `ctl_cyrusdb -r` before it listens (well under a second here); this bounds the wait
// at a few seconds.
const START_ATTEMPTS = 3;
const TOOL_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

interface CyrusInstall {
  root: string;
  bin: (name: string) => string;
  saslpasswd2: string;
  env: NodeJS.ProcessEnv;
}

function findCyrus(): CyrusInstall {
  const roots = process.env.POPVAULT_POP3_SERVERS ?? '/opt/popvault-pop3-servers';
  const root = join(roots, 'cyrus');
  const bin = (name: string) => join(root, 'usr/lib/cyrus/bin', name);
  const saslpasswd2 = join(root, 'usr/sbin/saslpasswd2');
  for (const path of [bin('master'), bin('pop3d'), bin('imapd'), bin('reconstruct'), saslpasswd2]) {
    if (!existsSync(path)) {
      throw new Error(`Cyrus is not unpacked: ${path} is missing. ${HOW_TO_FIX}`);
    }
  }
  // The packages' libraries (libcyrus*, libsasl2, ...) live in the root, not on the linker path.
  const libs = [join(root, 'usr/lib/x86_64-linux-gnu'), join(root, 'lib/x86_64-linux-gnu')];
  // The SASL plugins (sasldb, PLAIN, ...): the root's when apt had to fetch libsasl2-modules,
  // otherwise the system's. One directory only: with two, every mechanism loads (and is listed in
  // CAPA) twice. Without them no login works.
  const saslPath = [
    join(root, 'usr/lib/x86_64-linux-gnu/sasl2'),
    '/usr/lib/x86_64-linux-gnu/sasl2',
  ].find((dir) => existsSync(join(dir, 'libsasldb.so.2')));
  if (saslPath === undefined) {
    throw new Error(
      `No SASL sasldb plugin (libsasldb.so.2) in the Cyrus root or the system. ${HOW_TO_FIX}`,
    );
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LD_LIBRARY_PATH: [...libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    SASL_PATH: saslPath,
  };
  return { root, bin, saslpasswd2, env };
}

function assertRoot(): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(
      `The Cyrus test server must be started as root (running as uid ${uid ?? 'unknown'}): ` +
        `master binds as root and switches to the mail user itself. ${HOW_TO_FIX}`,
    );
  }
}

interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a Cyrus or SASL tool to completion; rejects with its output on a non-zero exit. */
function runTool(
  cyrus: CyrusInstall,
  bin: string,
  args: string[],
  input?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: cyrus.env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(
            `${bin} ${args.join(' ')} exited ${code ?? signal}:\n${stdout.trim()}\n${stderr.trim()}`,
          ),
        );
    });
    if (input !== undefined) {
      // A tool that exits before reading its input would otherwise raise an unhandled EPIPE; its
      // exit status tells what went wrong.
      child.stdin?.on('error', () => {});
      child.stdin?.end(input);
    }
  });
}

let mailIds: { uid: number; gid: number } | undefined;
/** Debian's `mail` user (uid 8), which the lab's `cyrus_user`/`cyrus_group` name. */
function mailOwner(): { uid: number; gid: number } {
  if (mailIds) return mailIds;
  const field = (file: string) => {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('mail:'));
    const id = Number(line?.split(':')[2]);
    if (!Number.isInteger(id)) throw new Error(`no mail entry in ${file}: Cyrus runs as mail`);
    return id;
  };
  mailIds = { uid: field('/etc/passwd'), gid: field('/etc/group') };
  return mailIds;
}

interface Paths {
  dir: string;
  conf: string;
  cyrusConf: string;
  sasldb: string;
  imapSocket: string;
  staging: string;
}

function pathsIn(dir: string): Paths {
  return {
    dir,
    conf: join(dir, 'imapd.conf'),
    cyrusConf: join(dir, 'cyrus.conf'),
    sasldb: join(dir, 'sasldb2'),
    imapSocket: join(dir, 'socket', 'imap'),
    staging: join(dir, 'staging'),
  };
}

/**
 * Debian 12's /etc/imapd.conf with every path moved into `dir` (its news, http and client-CA
 * lines dropped: nothing here uses them), plus what a private run needs: the sasldb, the
 * certificate, the mail user and an admin identity for creating mailboxes.
 */
function renderImapdConf(p: Paths, popminpollMinutes: number): string {
  return `# Generated by test/support/cyrus-lab.ts for one test run.
configdirectory: ${p.dir}/config
proc_path: ${p.dir}/proc
mboxname_lockpath: ${p.dir}/lock
defaultpartition: default
partition-default: ${p.dir}/spool
altnamespace: no
unixhierarchysep: no
lmtp_downcase_rcpt: yes
allowanonymouslogin: no
# Debian: 1 (one login a minute per mailbox). See CYRUS_LAB_POPMINPOLL_MINUTES.
popminpoll: ${popminpollMinutes}
autocreate_quota: 0
umask: 077
sieveusehomedir: false
sievedir: ${p.dir}/sieve
hashimapspool: true
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: ${p.sasldb}
sasl_auto_transition: no
tls_session_timeout: 1440
tls_server_cert: ${p.dir}/server.crt
tls_server_key: ${p.dir}/server.key
lmtpsocket: ${p.dir}/socket/lmtp
idlesocket: ${p.dir}/socket/idle
notifysocket: ${p.dir}/socket/notify
syslog_prefix: cyrus
cyrus_user: mail
cyrus_group: mail
admins: ${ADMIN}
servername: ${SERVERNAME}
`;
}

/**
 * Cyrus 3.6 has no service_path option: master execs `cmd` as written, so every command is an
 * absolute path into the unpacked root. No EVENTS (checkpoints and expiry are irrelevant to a run
 * of minutes) and no lmtpd (delivery goes through the spool, see deliver()).
 */
function renderCyrusConf(cyrus: CyrusInstall, p: Paths, plainPort: number, tlsPort: number) {
  const cmd = (name: string, args = '') => `${cyrus.bin(name)} -C ${p.conf}${args}`;
  return `# Generated by test/support/cyrus-lab.ts for one test run.
START {
  recover cmd="${cmd('ctl_cyrusdb', ' -r')}"
}
SERVICES {
  pop3 cmd="${cmd('pop3d')}" listen="${HOST}:${plainPort}" prefork=0
  pop3s cmd="${cmd('pop3d', ' -s')}" listen="${HOST}:${tlsPort}" prefork=0
  imap cmd="${cmd('imapd')}" listen="${p.imapSocket}" prefork=0
}
EVENTS {
}
`;
}

/**
 * A start-up failure that fresh ports may cure. master does not exit when it cannot bind a
 * service's port (it only tells syslog), so a port taken between freePorts() and master's bind
 * shows up as a refused connection, or as some other server's greeting.
 */
class PortTrouble extends Error {}

function assertCyrusGreeting(port: number, greeting: string): void {
  if (!/ Cyrus POP3 /.test(greeting)) {
    throw new PortTrouble(`port ${port} answered "${greeting}", not Cyrus: another server has it`);
  }
}

/**
 * A minimal IMAP client over the lab's unix socket: one tagged command after another, each
 * expected to end in OK. Only atoms are sent (user names and passwords are hex).
 */
async function imapSession(socketPath: string, commands: string[]): Promise<void> {
  const socket: Socket = netConnect({ path: socketPath });
  socket.setEncoding('latin1');
  socket.setTimeout(10_000, () => socket.destroy(new Error('IMAP server silent for 10 s')));
  const lines: string[] = [];
  let buffered = '';
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      lines.push(buffered.slice(0, end));
      buffered = buffered.slice(end + 2);
    }
    wake?.();
  });
  const fail = (error: Error) => {
    failure ??= error;
    wake?.();
  };
  socket.on('error', fail);
  socket.once('close', () => fail(new Error('IMAP connection closed')));
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
    return lines.shift() as string;
  };
  try {
    const greeting = await nextLine();
    if (!greeting.startsWith('* OK')) throw new Error(`IMAP greeting: ${greeting}`);
    for (const [i, command] of commands.entries()) {
      const tag = `t${i}`;
      socket.write(`${tag} ${command}\r\n`);
      for (;;) {
        const line = await nextLine();
        if (!line.startsWith(`${tag} `)) continue;
        if (!line.startsWith(`${tag} OK`)) {
          throw new Error(`IMAP ${command.split(' ')[0]} failed: ${line}`);
        }
        break;
      }
    }
  } finally {
    socket.destroy();
  }
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');

/**
 * What Cyrus's own delivery paths store: every line end CRLF (LMTP turns a bare LF into CRLF,
 * IMAP APPEND refuses bare LF). A bare CR and a missing final line end are kept, as APPEND keeps
 * them (measured on 3.6.1).
 */
function toCyrusSpool(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let lf = message.indexOf(LF); lf >= 0; lf = message.indexOf(LF, lf + 1)) {
    if (lf === 0 || message[lf - 1] !== CR) {
      parts.push(message.subarray(start, lf), CRLF);
      start = lf + 1;
    }
  }
  parts.push(message.subarray(start));
  return Buffer.concat(parts);
}

/**
 * The octets Cyrus 3.6.1 pop3d sends for RETR of a spool file (before the terminating ".\r\n").
 * Its blat() reads the file with `fgets(buf, 4096)` and writes each buffer with `printf("%s")`,
 * which was confirmed on the running server:
 * - a buffer that starts a line and begins with "." gets another "." (a buffer that continues a
 *   line longer than 4095 octets is never stuffed, so long lines come through intact);
 * - the file's bytes go out as they are: a bare LF is sent as a bare LF (it is the lab's job to
 *   store CRLF), 8-bit bytes as they are;
 * - a NUL ends the buffer's string: the rest of that buffer (up to and including the LF, or 4095
 *   octets) is never sent, and the next buffer is taken as the same line (not stuffed);
 * - if the last buffer did not end in LF, CRLF is appended: a message without a final line end is
 *   served with CRLF after it, two octets more than LIST says.
 */
function cyrusRetrWire(file: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  const fgets = (): Buffer | null => {
    if (pos >= file.length) return null;
    const lf = file.indexOf(LF, pos);
    const end = Math.min(lf < 0 ? file.length : lf + 1, pos + 4095);
    const chunk = file.subarray(pos, end);
    pos = end;
    const nul = chunk.indexOf(0);
    return nul < 0 ? chunk : chunk.subarray(0, nul);
  };
  // `buf[strlen(buf)-1] != '\n'`; for an empty string C reads buf[-1], which on the running server
  // never held '\n' (a line starting with NUL was glued to the next one, as modelled here).
  const endsLine = (s: Buffer) => s.length > 0 && s[s.length - 1] === LF;
  let last: Buffer | null = null;
  for (let buf = fgets(); buf !== null; buf = fgets()) {
    if (buf[0] === DOT) out.push(Buffer.from('.'));
    out.push(buf);
    last = buf;
    while (!endsLine(last)) {
      const next = fgets();
      if (next === null) break;
      out.push(next);
      last = next;
    }
  }
  if (last === null || !endsLine(last)) out.push(CRLF);
  return Buffer.concat(out);
}

/**
 * RFC 1939 s.3 un-stuffing as a client does it: lines start at the body's start and after CRLF;
 * a leading "." is dropped, and a line that is just "." ends the message.
 */
function unstuff(wire: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < wire.length) {
    const crlf = wire.indexOf(CRLF, pos);
    const end = crlf < 0 ? wire.length : crlf + 2;
    let line = wire.subarray(pos, end);
    if (line[0] === DOT) {
      if (line.length === 3 && crlf === pos + 1) break;
      line = line.subarray(1);
    }
    out.push(line);
    pos = end;
  }
  return Buffer.concat(out);
}

/** The message bytes a client gets from RETR of a Cyrus 3.6.1 spool file, after un-stuffing. */
function servedForm(file: Buffer): Buffer {
  return unstuff(cyrusRetrWire(file));
}

interface Mailbox {
  /** `mbpath` of user.NAME: the spool directory holding one `UID.` file per message. */
  dir: string;
  nextUid: number;
}

/**
 * Live messages of a mailbox per `mbexamine`, which reads cyrus.index under Cyrus's own lock and
 * skips expunged records. Needed because Debian keeps `expunge_mode: delayed` (the default): a
 * message deleted over POP3 loses its index record but its `UID.` file stays in the spool until
 * cyr_expire runs, so the directory alone does not say what is stored.
 */
async function liveMessages(
  cyrus: CyrusInstall,
  p: Paths,
  mailbox: string,
): Promise<{ dir: string; uids: number[] }> {
  const { stdout } = await runTool(cyrus, cyrus.bin('mbexamine'), ['-C', p.conf, mailbox]);
  const examined = stdout.match(/^Examining /gm)?.length ?? 0;
  const dir = /^ {2}Path to mailbox: (.+)$/m.exec(stdout)?.[1];
  const count = Number(/^ {2}Number of Messages: (\d+)/m.exec(stdout)?.[1]);
  const uids = [...stdout.matchAll(/^\d+> UID:(\d+) /gm)].map((m) => Number(m[1]));
  if (examined !== 1 || dir === undefined || uids.length !== count) {
    throw new Error(`cannot read mbexamine output for ${mailbox}:\n${stdout.slice(0, 2000)}`);
  }
  return { dir, uids };
}

/** Processes still running with this run's config on their command line (master's children). */
function processesOf(dir: string): number[] {
  const marker = `${dir}/imapd.conf`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(marker))
        pids.push(Number(entry));
    } catch {
      // Gone between readdir and read.
    }
  }
  return pids;
}

/** Ends whatever master left behind (it kills its children on SIGTERM; this is the safety net). */
async function reapLeftovers(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = processesOf(dir);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Not our children, so there is no exit event to await: poll briefly until /proc drops them.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Cyrus processes survived SIGKILL: ${processesOf(dir).join(', ')}`);
}

function prepareDir(
  dir: string,
  certs: ReturnType<typeof generateTestCertificates>,
  popminpollMinutes: number,
): Paths {
  const p = pathsIn(dir);
  const owner = mailOwner();
  // mkdtemp makes 0700; master's children run as mail and must reach everything below.
  chmodSync(dir, 0o755);
  for (const sub of ['config', 'proc', 'lock', 'spool', 'sieve', 'socket', 'staging']) {
    mkdirSync(join(dir, sub), { mode: 0o750 });
    chownSync(join(dir, sub), owner.uid, owner.gid);
  }
  writeFileSync(join(dir, 'server.crt'), certs.server.cert);
  writeFileSync(join(dir, 'server.key'), certs.server.key, { mode: 0o600 });
  chownSync(join(dir, 'server.key'), owner.uid, owner.gid);
  writeFileSync(p.conf, renderImapdConf(p, popminpollMinutes));
  return p;
}

async function setPassword(cyrus: CyrusInstall, p: Paths, user: string, password: string) {
  // -u localhost: the realm pop3d and imapd look users up in (servername); users log in as bare
  // "NAME" (measured: "NAME@localhost" is refused, as virtdomains is off).
  await runTool(
    cyrus,
    cyrus.saslpasswd2,
    ['-p', '-f', p.sasldb, '-u', SERVERNAME, '-c', user],
    password,
  );
  // saslpasswd2 runs as root and creates the db 0640 root; pop3d reads it as mail.
  const owner = mailOwner();
  chownSync(p.sasldb, owner.uid, owner.gid);
}

async function startOnce(
  cyrus: CyrusInstall,
  version: string,
  popminpollMinutes: number,
): Promise<Pop3Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'popvault-cyrus-'));
  try {
    return await launch(cyrus, version, dir, popminpollMinutes);
  } catch (error) {
    await reapLeftovers(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(
  cyrus: CyrusInstall,
  version: string,
  dir: string,
  popminpollMinutes: number,
): Promise<Pop3Lab> {
  const certs = generateTestCertificates();
  const p = prepareDir(dir, certs, popminpollMinutes);
  if (p.imapSocket.length > 100) {
    throw new Error(
      `temp dir path too long for a unix socket (${p.imapSocket}); set TMPDIR shorter`,
    );
  }
  const adminPassword = randomBytes(16).toString('hex');
  await setPassword(cyrus, p, ADMIN, adminPassword);
  const [plainPort, tlsPort] = await freePorts();
  writeFileSync(p.cyrusConf, renderCyrusConf(cyrus, p, plainPort, tlsPort));

  // Foreground (master daemonises only with -d) keeps master our child: its exit is an event to
  // await. -D keeps its stdout/stderr, so a start-up failure has something to show.
  const child: ChildProcess = spawn(
    cyrus.bin('master'),
    ['-C', p.conf, '-M', p.cyrusConf, '-p', join(dir, 'master.pid'), '-D'],
    { env: cyrus.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  // Drained always: a full pipe would block master's (and its children's) writes.
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      output += `\nspawn failed: ${error.message}`;
      resolve();
    });
  });

  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      // master kills its children and exits on SIGTERM (master(8)).
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS).unref(),
      );
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
      await reapLeftovers(dir);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    try {
      assertCyrusGreeting(
        plainPort,
        await waitForGreeting({ port: plainPort, exited, server: 'master' }),
      );
    } catch (error) {
      if (error instanceof NotListeningError) throw new PortTrouble(error.message);
      throw error;
    }
    // master binds every service before it serves any, so pop3s is up now or never. This also
    // proves the certificate loads and chains to the CA.
    try {
      assertCyrusGreeting(tlsPort, await readGreeting(tlsPort, { ca: certs.ca.cert }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw error;
      throw new PortTrouble(`nothing listens on ${HOST}:${tlsPort}`);
    }
  } catch (error) {
    const state =
      child.exitCode === null && child.signalCode === null
        ? 'master was still running'
        : `master exited ${child.exitCode ?? child.signalCode}`;
    await stop();
    const wrapped = new (error instanceof PortTrouble ? PortTrouble : Error)(
      `Cyrus did not start (${(error as Error).message}); ${state}. Cyrus logs only to syslog ` +
        `(/dev/log), so the reason may not be visible here.\n--- master output ---\n${output.trim()}`,
    );
    throw wrapped;
  }

  const mailboxes = new Map<string, Mailbox>();
  // saslpasswd2 writes a Berkeley DB without an environment: concurrent writers would corrupt it.
  // Deliveries share UID counters. One queue for both keeps them simple and safe.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const result = queue.then(work);
    queue = result.catch(() => {});
    return result;
  };
  const mailboxOf = (account: LabAccount): Mailbox => {
    const mailbox = mailboxes.get(account.user);
    if (!mailbox) throw new Error(`${account.user} was not created by this Cyrus lab`);
    return mailbox;
  };

  return {
    name: 'cyrus',
    version,
    host: HOST,
    plainPort,
    tlsPort,
    caPem: certs.ca.cert,

    createUser: () =>
      serial(async () => {
        // Lower-case hex only: '.' is Cyrus's hierarchy separator here and LMTP lower-cases.
        const user = `pv${randomBytes(5).toString('hex')}`;
        const password = randomBytes(12).toString('hex');
        await setPassword(cyrus, p, user, password);
        await imapSession(p.imapSocket, [
          `LOGIN ${ADMIN} ${adminPassword}`,
          `CREATE user.${user}`,
          'LOGOUT',
        ]);
        // Cyrus 3.6 stores a new mailbox under spool/uuid/X/Y/<uuid>, not by name.
        const { stdout } = await runTool(cyrus, cyrus.bin('mbpath'), [
          '-C',
          p.conf,
          `user.${user}`,
        ]);
        mailboxes.set(user, { dir: stdout.trim(), nextUid: 1 });
        return { user, password };
      }),

    /**
     * Spool files plus `reconstruct`, the third way mail enters a Cyrus store, because it is the
     * only one that keeps the bytes. Measured on 3.6.1: LMTP and IMAP APPEND both replace every
     * 8-bit header byte with "X" (munge8bit, default on; APPEND obeys it too), LMTP adds
     * Return-Path, Received, X-Cyrus-Session-Id, X-Sieve (and Message-ID, Date when missing), and
     * APPEND refuses NUL, bare LF and header lines without a colon. Here each message is written
     * as `UID.` in the mailbox directory with its line ends made CRLF as Cyrus's delivery would,
     * and reconstruct indexes the new files (it does so while a POP3 session is open, too).
     */
    deliver: (account, messages) =>
      serial(async () => {
        const mailbox = mailboxOf(account);
        const owner = mailOwner();
        const expected: number[] = [];
        const spooled = messages.map(toCyrusSpool);
        // Checked before any file is written, so a refused batch leaves the mailbox as it was.
        if (spooled.some((data) => data.length === 0)) {
          throw new Error('Cyrus cannot hold an empty message: reconstruct skips empty files');
        }
        for (const data of spooled) {
          const uid = mailbox.nextUid;
          // Staged outside the mailbox and renamed in, so reconstruct never sees half a file.
          const staged = join(p.staging, `${account.user}.${uid}`);
          writeFileSync(staged, data, { mode: 0o600 });
          chownSync(staged, owner.uid, owner.gid);
          renameSync(staged, join(mailbox.dir, `${uid}.`));
          mailbox.nextUid = uid + 1;
          expected.push(uid);
        }
        if (expected.length === 0) return;
        const { stdout } = await runTool(cyrus, cyrus.bin('reconstruct'), [
          '-C',
          p.conf,
          `user.${account.user}`,
        ]);
        const added = [...stdout.matchAll(/ uid (\d+) found - adding/g)].map((m) => Number(m[1]));
        if (added.join(',') !== expected.join(',')) {
          for (const uid of expected) {
            if (!added.includes(uid)) unlinkSync(join(mailbox.dir, `${uid}.`));
          }
          throw new Error(
            `reconstruct indexed UIDs [${added.join(', ')}], expected [${expected.join(', ')}]:\n${stdout}`,
          );
        }
      }),

    async stored(account) {
      mailboxOf(account);
      const { dir: spool, uids } = await liveMessages(cyrus, p, `user.${account.user}`);
      return uids.map((uid) => servedForm(readFileSync(join(spool, `${uid}.`))));
    },

    stop,
  };
}

/**
 * Starts a private Cyrus 3.6.1 master (pop3d plain+STLS and pop3s on loopback, imapd on a unix
 * socket) with a fresh CA, ports, sasldb and spool. `popminpollMinutes: 1` is Debian's own
 * setting, for the test of Cyrus's login delay.
 */
export async function startCyrusLab(
  options: { popminpollMinutes?: number } = {},
): Promise<Pop3Lab> {
  assertRoot();
  const cyrus = findCyrus();
  // "cyrus-imapd 3.6.1-Debian-3.6.1-4+deb12u5" here; pop3d has no version flag of its own.
  const version = (await runTool(cyrus, cyrus.bin('master'), ['-V'])).stdout.trim();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(
        cyrus,
        version,
        options.popminpollMinutes ?? CYRUS_LAB_POPMINPOLL_MINUTES,
      );
    } catch (error) {
      if (!(error instanceof PortTrouble) || attempt >= START_ATTEMPTS) throw error;
    }
  }
}
