/**
 * The CLI as a user runs it: a separate process, real Dovecot, a real local archive, real HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { SqliteMessageIndex } from '../../functions/adapters/local/sqlite-message-index.js';
import { defaultMailboxId } from '../../functions/cli/commands/pull.js';
import {
  maildirContents,
  maildirMessageCount,
  seedMailbox,
  toWireForm,
  uniqueUser,
} from '../support/dovecot.js';
import { sha256 } from '../support/pop3-test-kit.js';

const lab = inject('dovecot');
const CLI = join(process.cwd(), 'functions/cli/popvault.mjs');

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function popvault(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The content of `dir/name` once it exists, signalled by the directory's watcher, not by polling. */
function fileAppears(dir: string, name: string): Promise<string> {
  return new Promise((resolve) => {
    const path = join(dir, name);
    const watcher = watch(dir, () => {
      if (existsSync(path)) {
        watcher.close();
        resolve(readFileSync(path, 'utf8'));
      }
    });
  });
}

async function finish(child: ChildProcess): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

/**
 * Watches a child's stdout line by line from the start, so a test can await a line that may have
 * arrived before it asked (one reader only: a second readline on the same stream would miss lines).
 */
function stdoutLines(child: ChildProcess): (pattern: RegExp) => Promise<string> {
  const seen: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  if (!child.stdout) throw new Error('no stdout');
  createInterface({ input: child.stdout }).on('line', (line) => {
    seen.push(line);
    for (const waiter of waiters.splice(0)) {
      if (waiter.pattern.test(line)) waiter.resolve(line);
      else waiters.push(waiter);
    }
  });
  return (pattern) => {
    const already = seen.find((line) => pattern.test(line));
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve) => waiters.push({ pattern, resolve }));
  };
}

function caFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'popvault-ca-')), 'ca.pem');
  writeFileSync(path, lab.caPem);
  return path;
}

function mail(i: number): Buffer {
  return Buffer.from(
    `From: s${i}@example.com\nSubject: cli ${i}\nMessage-ID: <cli${i}.${Date.now()}@example.com>\n\n${'line\n'.repeat(200 + i * 37)}`,
  );
}

function pullArgs(user: string, archive: string): string[] {
  return [
    'pull',
    '--host',
    lab.host,
    '--port',
    String(lab.tlsPort),
    '--ca',
    caFile(),
    '--user',
    user,
    '--archive',
    archive,
  ];
}

describe('popvault CLI as a process', () => {
  it('pull archives a Dovecot mailbox locally; serve answers real HTTP with the bearer token', async () => {
    const user = uniqueUser('cli');
    const messages = Array.from({ length: 12 }, (_, i) => mail(i));
    seedMailbox(lab, user, messages);
    const archive = mkdtempSync(join(tmpdir(), 'popvault-cli-'));
    const pulled = await finish(
      popvault([...pullArgs(user, archive), '--json'], { POPVAULT_PASSWORD: lab.password }),
    );
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    const run = JSON.parse(pulled.stdout) as {
      outcome: string;
      counts: { stored: number; deleted: number };
    };
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 12, deleted: 12 } });
    expect(maildirMessageCount(lab, user)).toBe(0);

    const server = popvault(['serve', '--archive', archive, '--port', '0']);
    const line = stdoutLines(server);
    const exited = finish(server);
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(await line(/popvault API on/))?.[1];
    const token = readFileSync(join(archive, 'api-token'), 'utf8').trim();
    // The guidance names the header file for curl -H @FILE, never the token itself.
    expect(await line(/^ {2}curl /)).toBe(
      `  curl -s -H @${join(archive, 'api-auth-header')} ${url}/mailboxes`,
    );
    expect(readFileSync(join(archive, 'api-auth-header'), 'utf8')).toBe(
      `Authorization: Bearer ${token}\n`,
    );
    const unauthorised = await fetch(`${url}/mailboxes`);
    expect(unauthorised.status).toBe(401);
    const headers = { authorization: `Bearer ${token}` };
    const mailboxes = await fetch(`${url}/mailboxes`, { headers });
    expect(mailboxes.status).toBe(200);
    expect(JSON.stringify(await mailboxes.json())).toContain(defaultMailboxId(user, lab.host));
    // The default mailbox id is one the API accepts: its messages list over HTTP.
    const listed = await fetch(
      `${url}/mailboxes/${defaultMailboxId(user, lab.host)}/messages?limit=50`,
      { headers },
    );
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { items: unknown[] }).items).toHaveLength(12);
    server.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  });

  it('a pull killed with SIGKILL at a random moment is followed at once by a run that takes its lease over and finishes: nothing lost, nothing twice', async () => {
    const user = uniqueUser('cli-kill');
    const messages = Array.from({ length: 60 }, (_, i) => mail(i));
    seedMailbox(lab, user, messages);
    const archive = mkdtempSync(join(tmpdir(), 'popvault-cli-kill-'));
    const env = { POPVAULT_PASSWORD: lab.password };
    const child = popvault(pullArgs(user, archive), env);
    const exited = finish(child);
    // Progress lines go to stderr on a non-terminal; kill after a clock-chosen one of them.
    const killAt = 1 + (Date.now() % 6);
    let seen = 0;
    if (child.stderr) {
      for await (const _line of createInterface({ input: child.stderr })) {
        seen += 1;
        if (seen === killAt) {
          child.kill('SIGKILL');
          break;
        }
      }
    }
    await exited;
    const left = new Set(maildirContents(lab, user).map((m) => sha256(toWireForm(m))));
    const index = new SqliteMessageIndex({ path: join(archive, 'index.sqlite') });
    try {
      const archived = new Set(
        (await index.listMessages(defaultMailboxId(user, lab.host), { limit: 1000 })).items.map(
          (r) => r.sha256,
        ),
      );
      for (const m of messages) {
        const hash = sha256(toWireForm(m));
        if (!left.has(hash))
          expect(archived.has(hash), `killed at progress line ${killAt}`).toBe(true);
      }
    } finally {
      index.close();
    }
    // The killed run still holds the mailbox's lease; the next run, started at once, proves it dead
    // (same machine and boot, no such process) and takes over instead of waiting for it to expire.
    const again = await finish(popvault([...pullArgs(user, archive), '--json'], env));
    expect(again.code, `killed at progress line ${killAt}: ${again.stderr}`).toBe(0);
    expect(again.stderr).toMatch(/took over mailbox .* from a run that is no longer alive/);
    expect(JSON.parse(again.stdout.trim().split('\n').pop() ?? '')).toMatchObject({
      outcome: 'success',
    });
    expect(maildirMessageCount(lab, user)).toBe(0);
    const archiveAgain = new SqliteMessageIndex({ path: join(archive, 'index.sqlite') });
    try {
      const records = (
        await archiveAgain.listMessages(defaultMailboxId(user, lab.host), { limit: 1000 })
      ).items;
      expect(records).toHaveLength(messages.length);
      expect(new Set(records.map((r) => r.sha256))).toEqual(
        new Set(messages.map((m) => sha256(toWireForm(m)))),
      );
    } finally {
      archiveAgain.close();
    }
  });

  it('pull --config takes a mailbox from the stack config file; flags that clash with it are refused', async () => {
    const user = uniqueUser('cli-config');
    seedMailbox(lab, user, [mail(1), mail(2)]);
    const dir = mkdtempSync(join(tmpdir(), 'popvault-cli-config-'));
    const configPath = join(dir, 'popvault.config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        mailboxes: [
          {
            id: 'lab',
            host: lab.host,
            port: lab.tlsPort,
            tls: 'implicit',
            username: user,
            caPem: lab.caPem,
            policy: 'keep',
          },
        ],
      }),
    );
    const archive = join(dir, 'archive');
    const env = { POPVAULT_PASSWORD: lab.password };
    const pulled = await finish(
      popvault(
        ['pull', '--config', configPath, '--mailbox', 'lab', '--archive', archive, '--json'],
        env,
      ),
    );
    expect(pulled.stderr).toBe('');
    expect(JSON.parse(pulled.stdout)).toMatchObject({
      mailboxId: 'lab',
      outcome: 'success',
      counts: { stored: 2, deleted: 0 },
    });
    expect(maildirMessageCount(lab, user)).toBe(2);
    const clash = await finish(
      popvault(['pull', '--config', configPath, '--mailbox', 'lab', '--host', 'x'], env),
    );
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('--host comes from --config');
    const missing = await finish(
      popvault(['pull', '--config', configPath, '--mailbox', 'nope'], env),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('has no mailbox "nope" (it has: lab)');
  });

  it('flags are checked: an unknown flag, a bad value and a missing password each get one line and exit 2', async () => {
    const unknown = await finish(popvault(['pull', '--hots', 'x']));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('--hots');
    const badTls = await finish(
      popvault(['pull', '--host', 'x', '--user', 'u', '--tls', 'ssl'], { POPVAULT_PASSWORD: 'p' }),
    );
    expect(badTls.code).toBe(2);
    expect(badTls.stderr).toContain('--tls must be implicit, starttls or none');
    const noPassword = await finish(
      popvault(['pull', '--host', 'x', '--user', 'u'], { POPVAULT_PASSWORD: '' }),
    );
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toContain('no password');
    const badMailbox = await finish(
      popvault(['pull', '--host', 'x', '--user', 'u', '--mailbox', 'a/b@c'], {
        POPVAULT_PASSWORD: 'p',
      }),
    );
    expect(badMailbox.code).toBe(2);
    expect(badMailbox.stderr).toContain('--mailbox must be 1-64 letters');
    expect(defaultMailboxId('me@example.com', 'pop.example.com')).toBe(
      'me_example.com_pop.example.com',
    );
    const unknownCommand = await finish(popvault(['puller']));
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain('unknown command "puller"');
  });

  it('a wrong password exits 5 and never prints the password', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'popvault-cli-auth-'));
    const result = await finish(
      popvault(pullArgs(uniqueUser('cli-auth'), archive), {
        POPVAULT_PASSWORD: 'wrong-secret-value',
      }),
    );
    expect(result.code).toBe(5);
    expect(result.stdout + result.stderr).not.toContain('wrong-secret-value');
  });

  it('demo runs the whole product, never prints the token (curl reads it from a file), and exits cleanly when asked to stop', async () => {
    const demo = popvault(['demo']);
    const line = stdoutLines(demo);
    const exited = finish(demo);
    const curl = await line(/curl -s -H @\S+ http:\/\/127\.0\.0\.1:\d+\/mailboxes$/);
    const [, headerPath = '', url] = /-H @(\S+) (http:\/\/127\.0\.0\.1:\d+)/.exec(curl) ?? [];
    const tokenPath = (await line(/bearer token in /)).replace(/.*bearer token in (\S+)\)$/, '$1');
    await line(/is ready/);
    const token = readFileSync(tokenPath, 'utf8').trim();
    // The file holds the one header line curl sends with -H @FILE (curl 7.55+).
    const header = readFileSync(headerPath, 'utf8');
    expect(header).toBe(`Authorization: Bearer ${token}\n`);
    const response = await fetch(`${url}/mailboxes/demo/messages`, {
      headers: { authorization: header.replace(/^Authorization: /, '').trim() },
    });
    expect(response.status).toBe(200);
    demo.kill('SIGTERM');
    const done = await exited;
    expect(done.code).toBe(0);
    expect(done.stdout + done.stderr).not.toContain(token);
  });

  it('demo opens the viewer in the browser through an owner-only page, never with the sign-in code on a command line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'popvault-browser-'));
    const record = join(dir, 'opened');
    const browser = join(dir, 'browser.sh');
    // A stand-in browser: records what it was asked to open, then renames, so the file appears whole.
    writeFileSync(
      browser,
      `#!/bin/sh\nprintf '%s' "$*" > '${record}.tmp' && mv '${record}.tmp' '${record}'\n`,
      {
        mode: 0o755,
      },
    );
    const opened = fileAppears(dir, 'opened');
    const demo = popvault(['demo'], { BROWSER: browser });
    const line = stdoutLines(demo);
    const exited = finish(demo);
    const said = await line(/^viewer: /);
    await line(/is ready/);
    const argument = await opened;
    expect(argument).toMatch(/^file:\/\/\/.+\/open-viewer\.html$/);
    const page = fileURLToPath(argument);
    expect(statSync(page).mode & 0o777).toBe(0o600);
    const [, code] =
      /location\.replace\("http:\/\/127\.0\.0\.1:\d+\/#login=([^"]+)"\)/.exec(
        readFileSync(page, 'utf8'),
      ) ?? [];
    expect(code).toMatch(/\S{16,}/);
    expect(argument).not.toContain(code);
    // The link printed is another one-time link: the browser used the page's.
    expect(said).toMatch(
      /^viewer: opened in your browser \(.+browser\.sh\); another browser can sign in once with http:\/\/127\.0\.0\.1:\d+\/#login=\S+$/,
    );
    expect(said).not.toContain(code);
    demo.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  });

  it('demo --no-open, or no browser to run: the sign-in link is printed instead', async () => {
    const demo = popvault(['demo', '--no-open'], { BROWSER: '/nonexistent/browser' });
    const line = stdoutLines(demo);
    const exited = finish(demo);
    expect(await line(/^viewer/)).toMatch(
      /^viewer \(this link signs you in once\): http:\/\/127\.0\.0\.1:\d+\/#login=\S+$/,
    );
    await line(/is ready/);
    demo.kill('SIGTERM');
    expect((await exited).code).toBe(0);
    const missing = popvault(['demo'], { BROWSER: '/nonexistent/browser' });
    const missingLine = stdoutLines(missing);
    const missingExit = finish(missing);
    expect(await missingLine(/^viewer/)).toMatch(/^viewer \(this link signs you in once\): /);
    await missingLine(/is ready/);
    missing.kill('SIGTERM');
    expect((await missingExit).code).toBe(0);
  });

  it("npm start (the README's first command) runs the demo and stops cleanly on Ctrl-C", async () => {
    // detached: its own process group, so SIGINT reaches npm, the shell and node alike, as Ctrl-C does.
    const npm = spawn('npm', ['start'], {
      cwd: process.cwd(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = stdoutLines(npm);
    let stdout = '';
    npm.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    // The stream ends only when every process of the group has let go of it.
    const ended = new Promise<void>((resolve) => npm.stdout?.once('end', () => resolve()));
    await line(/is ready/);
    process.kill(-(npm.pid as number), 'SIGINT');
    await ended;
    expect(stdout).toContain('6 archived, 6 deleted from the server after archiving; 0 left there');
    expect(stdout).toContain('stopped.');
    expect(stdout).toMatch(/curl -s -H @\S+\/api-auth-header http:/);
    expect(stdout).not.toContain('Bearer');
  });
});
