import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTestCertificates } from './certs.js';
import { freePorts, readGreeting, waitForGreeting } from './lab-network.js';
import type { LabAccount, Pop3Lab } from './pop3-lab.js';

/*
 * GNU Mailutils pop3d (Debian 12 package mailutils-pop3d, 3.15) on loopback, serving Maildirs.
 *
 * Accounts are system users, because pop3d authenticates through PAM and opens the mailbox as the
 * user: each createUser() runs useradd/chpasswd for a fresh `popvault-mu-...` user whose home (and
 * Maildir) lies in this lab's temp dir, and stop() deletes them again.
 *
 * What the server does to a Maildir file, measured on 3.15 by comparing RETR bytes with the file:
 *
 * - The file is split at its first "\n\n": the header is everything before it, the body everything
 *   after. A file without "\n\n" (one stored with CRLF line ends, a header without a body, a bare
 *   text, an empty file, "\nbody") is served as an empty message: a single CRLF.
 * - The header is parsed and written out again, not copied: each field as `name: value`, with the
 *   blanks before the colon and at the start of the value dropped and exactly one space written
 *   after the colon; continuation lines stay as they are. A line that is not a continuation and
 *   has no colon ends the header: it and every field after it are gone. A line starting with
 *   "From " (an mbox From_ line) is a field named "From ", served as "From : <rest>". The body is
 *   copied. Raw 8-bit bytes pass unchanged.
 * - Every LF goes out as CRLF, blindly: a stored CRLF is served as CR CR LF. A file whose last byte
 *   is not LF gets CRLF appended, which LIST/STAT do not count (2 octets short); otherwise LIST/STAT
 *   sizes equal the octets RETR serves, CRLF counted.
 * - The first UIDL command (listing, or `UIDL n`) covering a message whose header has no X-UIDL
 *   field computes `<md5 hex>.<unix time now>.<uid>`, appends `X-UIDL: <that>` as
 *   the header's last field, and from then on the session serves it in RETR/TOP and counts it in
 *   LIST/STAT (sizes listed earlier in that session lack it). LIST, TOP and RETR alone add nothing.
 *   When that session ends, by QUIT or by a dropped connection alike, the file is rewritten: with
 *   the field, without Status, X-IMAPbase, X-UID, X-Envelope-Sender and X-Envelope-Date fields,
 *   and a From_ line stored as "From : <rest>" (so served as "From : : <rest>" from then on).
 *   A message delivered with an X-UIDL field is never rewritten and that value is its UIDL,
 *   verbatim: empty, containing spaces, or the same for two messages.
 * - While a session is open its lock file (in the lock directory, holding the session's pid)
 *   exists; pop3d removes it only after that rewrite (the QUIT reply comes after it, too).
 * - Message numbers follow the file names (leading seconds, then the number after "M", then after
 *   "Q"), not the delivery time. Opening a mailbox empties its tmp/.
 *
 * Hence deliver() stores LF line ends (as a Unix MDA would): CRLF in the given bytes becomes LF,
 * which pop3d turns back into exactly CRLF, while a CRLF file would be served empty and, once a
 * UIDL has been written, be truncated on disk to that one header field.
 */

const HOST = '127.0.0.1';
const POP3D = '/usr/sbin/pop3d';
const HOW_TO_FIX =
  'These tests run a real GNU Mailutils pop3d. Run `.ci/install-pop3-servers.sh` as root (it installs ' +
  'mailutils-pop3d with apt), then run the tests as root.';
/** System users this lab creates; stop() deletes them, start deletes those of crashed runs. */
const USER_PREFIX = 'popvault-mu-';
const DIR_PREFIX = 'popvault-mailutils-';
const OWNER_FILE = 'owner.pid';
// Readiness: pop3d listens within ~50 ms; this bounds the wait at a few seconds.
const START_ATTEMPTS = 3;
/** How long stored() waits for an open session of the account to end (and rewrite its files). */
const SESSION_END_WAIT_MS = 20_000;
/** useradd/userdel fail while another process holds /etc/passwd's lock; they are retried. */
const ACCOUNT_TOOL_ATTEMPTS = 50;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const FROM_ = Buffer.from('From ');
const CRLF = Buffer.from('\r\n');

function findPop3d(): string {
  let out: string;
  try {
    out = execFileSync(POP3D, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`GNU Mailutils pop3d is not installed (no ${POP3D}). ${HOW_TO_FIX}`);
    }
    throw error;
  }
  const version = out.split('\n')[0]?.trim() ?? '';
  if (!version.includes('GNU Mailutils')) {
    throw new Error(`${POP3D} is not GNU Mailutils pop3d (it says "${version}"). ${HOW_TO_FIX}`);
  }
  return version;
}

function assertRoot(): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(
      `The Mailutils test server must be started as root (running as uid ${uid ?? 'unknown'}): ` +
        `it creates system users and pop3d switches to them. ${HOW_TO_FIX}`,
    );
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', (error) =>
      reject(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`\`${cmd}\` is missing (Debian package passwd). ${HOW_TO_FIX}`)
          : error,
      ),
    );
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs useradd/userdel/chpasswd, retrying while another process holds the passwd file lock. */
async function accountTool(cmd: string, args: readonly string[], input?: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const result = await run(cmd, args, input);
    if (result.code === 0) return;
    const busy = /lock|try again/i.test(result.stderr);
    if (!busy || attempt >= ACCOUNT_TOOL_ATTEMPTS) {
      throw new Error(
        `${cmd} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`,
      );
    }
    await sleep(Math.min(10 * attempt, 100));
  }
}

function processAlive(pid: number): boolean {
  try {
    // A zombie still answers kill(0) but is gone for every purpose here.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Pids whose parent is `ppid` (pop3d forks one child per connection). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // Fields after the command name, which is in parentheses and may hold anything.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === ppid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(5 * attempt, 50));
  }
}

/**
 * Deletes what crashed runs left: `popvault-mu-` users whose home is in a lab dir under the temp
 * dir, and such lab dirs, when the process that made them (owner.pid) is gone. A lab of a live
 * process (another test worker) is left alone.
 */
async function removeLeftovers(): Promise<void> {
  const base = tmpdir();
  const ownerAlive = (labDir: string): boolean => {
    try {
      const pid = Number(readFileSync(join(labDir, OWNER_FILE), 'utf8').trim());
      return pid > 0 && processAlive(pid);
    } catch {
      // Without owner.pid: a lab being made this moment (its owner writes the file right after
      // creating the dir), or one that crashed right then.
      try {
        return Date.now() - statSync(labDir).mtimeMs < 60_000;
      } catch {
        return false;
      }
    }
  };
  const staleDirs = new Set<string>();
  for (const name of readdirSync(base)) {
    if (name.startsWith(DIR_PREFIX) && !ownerAlive(join(base, name))) {
      staleDirs.add(join(base, name));
    }
  }
  const homePattern = new RegExp(
    `^(${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${DIR_PREFIX}[A-Za-z0-9]+)/mail/[^/]+$`,
  );
  const staleUsers: string[] = [];
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , , , , home] = line.split(':');
    if (name === undefined || home === undefined || !name.startsWith(USER_PREFIX)) continue;
    const labDir = homePattern.exec(home)?.[1];
    if (labDir === undefined || ownerAlive(labDir)) continue;
    staleDirs.add(labDir);
    staleUsers.push(name);
  }
  for (const labDir of staleDirs) {
    // A pop3d of that run still holding its ports would keep sessions of those users alive;
    // SIGTERM to the master ends its sessions too.
    try {
      const pid = Number(readFileSync(join(labDir, 'pop3d.pid'), 'utf8').trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (cmdline.includes(join(labDir, 'pop3d.conf'))) {
        signal(pid, 'SIGTERM');
        await waitUntil(() => !processAlive(pid), 3_000);
      }
    } catch {
      // No pid file or no such process: nothing runs there.
    }
  }
  // --force: a session of a killed run may linger for a moment.
  for (const name of staleUsers) await accountTool('userdel', ['--force', name]);
  for (const labDir of staleDirs) rmSync(labDir, { recursive: true, force: true });
}

function renderConfig(o: {
  dir: string;
  mailRoot: string;
  lockDir: string;
  plainPort: number;
  tlsPort: number;
}): string {
  const tls = `tls {
    ssl-certificate-file "${o.dir}/server.crt";
    ssl-key-file "${o.dir}/server.key";
  };`;
  return `# Generated by test/support/mailutils-lab.ts for one test run.
mode daemon;
# Keeps the master our child, so its exit is an event to await (the --foreground option is not
# needed on top of this).
foreground true;
pidfile "${o.dir}/pop3d.pid";
# To stderr, which goes to pop3d.log: it says why a login or a bind failed.
logging {
  syslog false;
  severity debug;
};
mailbox {
  mailbox-pattern "maildir://${o.mailRoot}/\${user}";
};
# Required, not a relaxation: without a writable lock directory pop3d tries
# /var/lock/subsys/mail, cannot create its lock there and answers every login
# "-ERR [IN-USE] Mailbox in use". One session per mailbox stays the rule.
mandatory-locking {
  enable true;
  lock-directory "${o.lockDir}";
};
server ${HOST}:${o.plainPort} {
  tls-mode stls;
  ${tls}
};
server ${HOST}:${o.tlsPort} {
  tls-mode connection;
  ${tls}
};
`;
}

function logTail(logPath: string): string {
  let log: string;
  try {
    log = readFileSync(logPath, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    log = '(no log file)';
  }
  return `--- pop3d log (tail) ---\n${log}`;
}

/** The bytes to store for a delivered message: CRLF becomes LF (see the top of this file). */
function toStoredForm(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let lf = message.indexOf(LF); lf >= 0; lf = message.indexOf(LF, lf + 1)) {
    if (lf > 0 && message[lf - 1] === CR) {
      parts.push(message.subarray(start, lf - 1));
      start = lf;
    }
  }
  parts.push(message.subarray(start));
  return Buffer.concat(parts);
}

const isLwsp = (byte: number | undefined) => byte === SP || byte === TAB;

/** Header fields as pop3d 3.15 parses them (see the top of this file). */
function parseHeader(block: Buffer): Array<{ name: Buffer; value: Buffer }> {
  const fields: Array<{ name: Buffer; value: Buffer }> = [];
  let start = 0;
  while (start < block.length) {
    const first = block[start];
    if (first === SP || first === TAB || first === LF) break;
    // A field runs to the first LF that is not followed by a continuation line.
    let end = block.length;
    for (let from = start; ; ) {
      const lf = block.indexOf(LF, from);
      if (lf < 0) break;
      if (lf + 1 >= block.length || !isLwsp(block[lf + 1])) {
        end = lf;
        break;
      }
      from = lf + 1;
    }
    const text = block.subarray(start, end);
    if (text.length >= FROM_.length && text.subarray(0, FROM_.length).equals(FROM_)) {
      fields.push({ name: FROM_, value: text.subarray(FROM_.length) });
    } else {
      const colon = text.indexOf(COLON);
      if (colon < 0) break;
      let nameEnd = colon;
      while (nameEnd > 0 && isLwsp(text[nameEnd - 1])) nameEnd--;
      let valueStart = colon + 1;
      while (isLwsp(text[valueStart])) valueStart++;
      fields.push({ name: text.subarray(0, nameEnd), value: text.subarray(valueStart) });
    }
    start = end + 1;
  }
  return fields;
}

/** The octets RETR serves (after dot-unstuffing) for a Maildir file, per pop3d 3.15. */
function toWireForm(file: Buffer): Buffer {
  const split = file.indexOf('\n\n');
  const header = split < 0 ? Buffer.alloc(0) : file.subarray(0, split + 1);
  const body = split < 0 ? Buffer.alloc(0) : file.subarray(split + 2);
  const lines: Buffer[] = [];
  for (const { name, value } of parseHeader(header)) {
    lines.push(name, Buffer.from(': '), value, Buffer.from('\n'));
  }
  lines.push(Buffer.from('\n'), body);
  const message = Buffer.concat(lines);
  const parts: Buffer[] = [];
  let start = 0;
  for (let lf = message.indexOf(LF); lf >= 0; lf = message.indexOf(LF, lf + 1)) {
    parts.push(message.subarray(start, lf), CRLF);
    start = lf + 1;
  }
  parts.push(message.subarray(start));
  if (message[message.length - 1] !== LF) parts.push(CRLF);
  return Buffer.concat(parts);
}

/**
 * pop3d's Maildir message order (maildir_message_cmp in Mailutils 3.15): the leading seconds,
 * the character after them, the number after the first "M", then after the first "Q", then the
 * names up to ":".
 */
function compareMaildirNames(a: string, b: string): number {
  const at = (s: string, i: number) => (i < s.length ? s.charCodeAt(i) : 0);
  const number = (s: string, i: number): [number, number] => {
    let j = i;
    while (j < s.length && at(s, j) >= 0x30 && at(s, j) <= 0x39) j++;
    return [j > i ? Number(s.slice(i, j)) : 0, j];
  };
  let [na, ia] = number(a, 0);
  let [nb, ib] = number(b, 0);
  if (na !== nb) return na - nb;
  const d = at(a, ia) - at(b, ib);
  if (d !== 0) return d;
  ia++;
  ib++;
  for (const letter of ['M', 'Q']) {
    const pa = a.indexOf(letter, ia);
    const pb = b.indexOf(letter, ib);
    if (pa >= 0 && pb >= 0) {
      [na, ia] = number(a, pa + 1);
      [nb, ib] = number(b, pb + 1);
      if (na !== nb) return na - nb;
    }
  }
  for (; ia < a.length && ib < b.length && a[ia] !== ':' && b[ib] !== ':'; ia++, ib++) {
    const c = at(a, ia) - at(b, ib);
    if (c !== 0) return c;
  }
  const endA = ia >= a.length || a[ia] === ':';
  const endB = ib >= b.length || b[ib] === ':';
  if (endA && endB) return 0;
  return at(a, ia) - at(b, ib);
}

interface Account extends LabAccount {
  uid: number;
  gid: number;
  maildir: string;
}

/**
 * Starts a private GNU Mailutils pop3d on loopback: one port with STLS, one with implicit TLS.
 *
 * stored() returns each Maildir file as pop3d serves it now. Until a session that issued UIDL has
 * ended, a message's file has no X-UIDL: stored() then gives the bytes every session serves up to
 * its first UIDL command (RETR before UIDL), but not what that first UIDL session serves after
 * UIDL (it adds `X-UIDL: <md5>.<time>.<uid>` as the last header field, a value fixed only then).
 * Once that session has ended (QUIT or dropped connection), the file holds the field and stored()
 * gives exactly what that session served after UIDL and what every later session serves (except
 * for the fields the rewrite drops or changes, listed at the top of this file). stored() first
 * waits up to SESSION_END_WAIT_MS for an open session of the account to end, as pop3d rewrites
 * files at session end (2.4 to 3.9 s after a dropped connection for a 26 MB message here).
 */
export async function startMailutilsLab(): Promise<Pop3Lab> {
  assertRoot();
  const version = findPop3d();
  await removeLeftovers();
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(version);
    } catch (error) {
      // The ports are free when chosen but could be taken before pop3d binds them.
      const retry = (error as { addressInUse?: boolean }).addressInUse === true;
      if (!retry || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

async function launch(version: string): Promise<Pop3Lab> {
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  // mkdtemp makes 0700; each session runs as its account and must reach the Maildirs.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, OWNER_FILE), `${process.pid}\n`);
  const mailRoot = join(dir, 'mail');
  const lockDir = join(dir, 'locks');
  // Files are written here and renamed into new/: pop3d empties a Maildir's own tmp/ whenever it
  // opens the mailbox, which would race with a delivery through tmp/.
  const staging = join(dir, 'staging');
  const logPath = join(dir, 'pop3d.log');
  const configPath = join(dir, 'pop3d.conf');
  mkdirSync(mailRoot, { mode: 0o755 });
  mkdirSync(staging, { mode: 0o755 });
  mkdirSync(lockDir);
  // Sessions run as their account and create their lock files here.
  chmodSync(lockDir, 0o1777);

  const accounts = new Map<string, Account>();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const stopServer = async () => {
    const master = child;
    if (master?.pid === undefined || master.exitCode !== null || master.signalCode !== null) {
      await exited;
      return;
    }
    // Sessions first, so the master reaps them; a master stopped first leaves them to init.
    const sessions = childrenOf(master.pid);
    for (const pid of sessions) signal(pid, 'SIGTERM');
    if (!(await waitUntil(() => sessions.every((pid) => !processAlive(pid)), 3_000))) {
      for (const pid of sessions) signal(pid, 'SIGKILL');
      await waitUntil(() => sessions.every((pid) => !processAlive(pid)), 2_000);
    }
    master.kill('SIGTERM');
    const timer = setTimeout(() => master.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await stopServer();
      const errors: string[] = [];
      for (const account of accounts.values()) {
        try {
          await accountTool('userdel', [account.user]);
        } catch (error) {
          errors.push((error as Error).message);
        }
      }
      accounts.clear();
      rmSync(dir, { recursive: true, force: true });
      if (errors.length > 0) throw new Error(`could not delete lab users:\n${errors.join('\n')}`);
    })();
    return stopping;
  };

  try {
    const certs = generateTestCertificates();
    writeFileSync(join(dir, 'server.crt'), certs.server.cert);
    writeFileSync(join(dir, 'server.key'), certs.server.key, { mode: 0o600 });
    const [plainPort, tlsPort] = await freePorts();
    writeFileSync(configPath, renderConfig({ dir, mailRoot, lockDir, plainPort, tlsPort }));
    try {
      execFileSync(POP3D, [`--config-file=${configPath}`, '--config-lint'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
      throw new Error(`pop3d --config-lint rejected the generated config:\n${stderr}`);
    }

    const logFd = openSync(logPath, 'a');
    try {
      child = spawn(POP3D, [`--config-file=${configPath}`], {
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    const started = child;
    // 'error' without 'exit' happens when the spawn itself fails.
    exited = new Promise<void>((resolve) => {
      started.once('exit', () => resolve());
      started.once('error', (error) => {
        writeFileSync(logPath, `\nspawn failed: ${error.message}\n`, { flag: 'a' });
        resolve();
      });
    });

    try {
      await waitForGreeting({ port: plainPort, exited, server: 'pop3d' });
      // Proves the certificate loads and chains to the CA on the implicit-TLS port too.
      await readGreeting(tlsPort, { ca: certs.ca.cert });
      // pop3d keeps running when one of its servers cannot bind: only its log says so.
      if (/cannot open connection/.test(readFileSync(logPath, 'utf8'))) {
        throw new Error('a listening port could not be bound');
      }
    } catch (error) {
      const detail = logTail(logPath);
      const addressInUse = /Address already in use/.test(detail);
      throw Object.assign(
        new Error(
          `GNU Mailutils pop3d did not start (${(error as Error).message}); exit ${child.exitCode ?? child.signalCode}.\n${detail}`,
        ),
        { addressInUse },
      );
    }

    const runId = randomBytes(4).toString('hex');
    let userCount = 0;
    let lastSeconds = 0;
    let deliveries = 0;

    const accountOf = (account: LabAccount): Account => {
      const known = accounts.get(account.user);
      if (known === undefined) throw new Error(`not an account of this lab: ${account.user}`);
      return known;
    };

    const sessionOpen = (account: Account): boolean => {
      for (const name of readdirSync(lockDir)) {
        if (!name.endsWith(`%2F${account.user}.lock`)) continue;
        let holder: string;
        try {
          holder = readFileSync(join(lockDir, name), 'utf8');
        } catch {
          continue; // Released while we looked.
        }
        // The lock file holds the session's pid; one left by a killed session is stale.
        const pid = Number(holder.trim());
        if (!(pid > 0) || processAlive(pid)) return true;
      }
      return false;
    };

    const lab: Pop3Lab = {
      name: 'mailutils',
      version,
      host: HOST,
      plainPort,
      tlsPort,
      caPem: certs.ca.cert,

      async createUser() {
        userCount += 1;
        const user = `${USER_PREFIX}${runId}-${userCount}`;
        const password = randomBytes(12).toString('hex');
        const maildir = join(mailRoot, user);
        await accountTool('useradd', [
          '--no-create-home',
          '--no-user-group',
          '--gid',
          'nogroup',
          '--home-dir',
          maildir,
          '--shell',
          '/usr/sbin/nologin',
          '--comment',
          'popvault mailutils lab',
          user,
        ]);
        const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
        const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
        const account: Account = { user, password, uid, gid, maildir };
        // Registered before anything else can fail, so stop() deletes the user.
        accounts.set(user, account);
        await accountTool('chpasswd', [], `${user}:${password}\n`);
        for (const d of [maildir, ...['tmp', 'new', 'cur'].map((s) => join(maildir, s))]) {
          mkdirSync(d, { mode: 0o700 });
          chownSync(d, uid, gid);
        }
        return { user, password };
      },

      async deliver(account, messages) {
        const owner = accountOf(account);
        for (const message of messages) {
          // pop3d orders by the leading seconds, then by the number after "M": both only grow,
          // so delivery order is message-number order even across a clock step back.
          lastSeconds = Math.max(lastSeconds, Math.floor(Date.now() / 1000));
          deliveries += 1;
          const name = `${lastSeconds}.M${deliveries}P${process.pid}Q${deliveries}.popvault-lab`;
          const staged = join(staging, name);
          writeFileSync(staged, toStoredForm(message), { mode: 0o600 });
          chownSync(staged, owner.uid, owner.gid);
          renameSync(staged, join(owner.maildir, 'new', name));
        }
      },

      async stored(account) {
        const owner = accountOf(account);
        // A session rewrites its files (X-UIDL) when it ends, also when the client just drops
        // the connection, and holds its lock until then. If a session stays open, what is on
        // disk now is returned.
        await waitUntil(() => !sessionOpen(owner), SESSION_END_WAIT_MS);
        const files: Array<{ name: string; path: string }> = [];
        for (const sub of ['cur', 'new']) {
          for (const name of readdirSync(join(owner.maildir, sub))) {
            const path = join(owner.maildir, sub, name);
            if (!name.startsWith('.') && statSync(path).isFile()) files.push({ name, path });
          }
        }
        files.sort((x, y) => compareMaildirNames(x.name, y.name));
        return files.map((f) => toWireForm(readFileSync(f.path)));
      },

      stop,
    };
    return lab;
  } catch (error) {
    try {
      await stop();
    } catch {
      // The start-up error is the one to report.
    }
    throw error;
  }
}
