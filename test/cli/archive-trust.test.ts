/**
 * Another local user against the local archive: they must not be able to hand popvault their own
 * archive directory, reach ours through a link or a directory they control, or plant an API token
 * they know. The suite runs as root (README), which is both the strongest case (root can read
 * anything, so only the checks stop it) and what lets the tests chown files to another user.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../functions/cli/cli-error.js';
import {
  API_AUTH_HEADER_FILE,
  API_TOKEN_FILE,
  ensureApiToken,
  openLocalArchive,
} from '../../functions/cli/local-archive.js';

/** Debian's "nobody": a user other than the one running the tests. */
const OTHER_USER = 65534;
const CLI = join(process.cwd(), 'functions/cli/popvault.mjs');
const A_TOKEN = 'planted-token-the-other-user-knows-0123456789';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'popvault-trust-'));
}

/** Opens and closes the archive; rejects with what openLocalArchive threw. */
async function open(directory: string): Promise<void> {
  (await openLocalArchive(directory)).close();
}

async function refusal(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

/** An archive directory that passes, with a token file of the given mode and owner. */
function archiveWithToken(content: string, mode = 0o600, uid = process.getuid?.() ?? 0): string {
  const archive = join(scratch(), 'archive');
  mkdirSync(archive, { mode: 0o700 });
  const token = join(archive, API_TOKEN_FILE);
  writeFileSync(token, content, { mode });
  chmodSync(token, mode);
  chownSync(token, uid, uid);
  return archive;
}

async function popvault(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out };
}

describe('the archive directory belongs to the user and is reached only through what they control', () => {
  it("another user's archive directory is refused, even to root, and nothing is written into it", async () => {
    const archive = join(scratch(), 'theirs');
    mkdirSync(archive, { mode: 0o700 });
    chownSync(archive, OTHER_USER, OTHER_USER);
    const error = await refusal(open(archive));
    expect(error.message).toContain(`${archive} belongs to uid ${OTHER_USER}`);
    expect(error.message).toContain('--archive DIR');
    expect(existsSync(join(archive, 'index.sqlite'))).toBe(false);
  });

  it('an archive directory that is a symbolic link is refused, and its target is left alone', async () => {
    const real = join(scratch(), 'real');
    mkdirSync(real, { mode: 0o755 });
    const link = join(scratch(), 'link');
    symlinkSync(real, link);
    const error = await refusal(open(link));
    expect(error.message).toContain(`${link} is a symbolic link (to ${real})`);
    expect(error.message).toContain('Pass the real directory with --archive');
    expect(existsSync(join(real, 'index.sqlite'))).toBe(false);
    expect(lstatSync(real).mode & 0o777).toBe(0o755);
  });

  it('an archive inside a directory another user owns is refused: they could swap it', async () => {
    const theirs = scratch();
    chownSync(theirs, OTHER_USER, OTHER_USER);
    const archive = join(theirs, 'archive');
    const error = await refusal(open(archive));
    expect(error.message).toContain(`is reached through ${theirs}, which belongs to uid`);
    expect(existsSync(archive)).toBe(false);
  });

  it('an archive inside a directory anyone can write to (not sticky) is refused', async () => {
    const open777 = scratch();
    chmodSync(open777, 0o777);
    const error = await refusal(open(join(open777, 'archive')));
    expect(error.message).toContain('other users can write to (mode 0777)');
    expect(error.message).toContain(`chmod go-w ${open777}`);
  });

  it('an archive reached through a link another user owns is refused', async () => {
    const real = scratch();
    const link = join(scratch(), 'their-link');
    symlinkSync(real, link);
    lchownSync(link, OTHER_USER, OTHER_USER);
    const error = await refusal(open(join(link, 'archive')));
    expect(error.message).toContain(
      `the symbolic link ${link}, which belongs to uid ${OTHER_USER}`,
    );
    expect(existsSync(join(real, 'archive'))).toBe(false);
  });

  it("a trusted link on the way (as macOS's /var) is followed, and its target must pass too", async () => {
    const good = scratch();
    const toGood = join(scratch(), 'to-good');
    symlinkSync(good, toGood);
    await open(join(toGood, 'archive'));
    expect(existsSync(join(good, 'archive', 'index.sqlite'))).toBe(true);

    const theirs = scratch();
    chownSync(theirs, OTHER_USER, OTHER_USER);
    const toTheirs = join(scratch(), 'to-theirs');
    // A relative target, resolved from the link's own directory as the kernel does.
    symlinkSync(join('..', theirs.split('/').at(-1) ?? ''), toTheirs);
    const error = await refusal(open(join(toTheirs, 'archive')));
    expect(error.message).toContain(`is reached through ${theirs}, which belongs to uid`);
  });

  it('an archive directory other users can write to is refused: its files may be theirs', async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(archive);
    chmodSync(archive, 0o770);
    const error = await refusal(open(archive));
    expect(error.message).toContain('can be written by other users (mode 0770)');
    expect(error.message).toContain(`chmod 700 ${archive}`);
  });

  it('an archive directory others can only read is closed to 0700 and used', async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(archive);
    chmodSync(archive, 0o755);
    await open(archive);
    expect(lstatSync(archive).mode & 0o777).toBe(0o700);
  });

  it('a mail/ directory planted by another user is refused', async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(join(archive, 'mail'), { recursive: true, mode: 0o700 });
    chmodSync(archive, 0o700);
    chownSync(join(archive, 'mail'), OTHER_USER, OTHER_USER);
    const error = await refusal(open(archive));
    expect(error.message).toContain(`${join(archive, 'mail')} belongs to uid ${OTHER_USER}`);
  });

  it('a mail/ directory anyone can write to is refused: mail may have been planted in it', async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(join(archive, 'mail'), { recursive: true, mode: 0o700 });
    chmodSync(archive, 0o700);
    chmodSync(join(archive, 'mail'), 0o777);
    const error = await refusal(open(archive));
    expect(error.message).toContain(`${join(archive, 'mail')} can be written by other users`);
    expect(error.message).toContain('chmod go-w');
  });

  it('an index that is a link to another file is refused, and that file is not opened', async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(archive, { mode: 0o700 });
    const elsewhere = join(scratch(), 'elsewhere.sqlite');
    symlinkSync(elsewhere, join(archive, 'index.sqlite'));
    const error = await refusal(open(archive));
    expect(error.message).toContain('index.sqlite is a symbolic link');
    expect(existsSync(elsewhere)).toBe(false);
  });
});

describe("the API token is read only from a private file of the user's own, never through a link", () => {
  it('a token file that is a link to another file is refused, and that file is not read or changed', async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(archive, { mode: 0o700 });
    const other = join(scratch(), 'other-token');
    writeFileSync(other, `${A_TOKEN}\n`, { mode: 0o600 });
    symlinkSync(other, join(archive, API_TOKEN_FILE));
    const error = await refusal(ensureApiToken(archive));
    expect(error.message).toContain(`${join(archive, API_TOKEN_FILE)} is a symbolic link`);
    expect(error.message).toContain('rm ');
    expect(error.message).not.toContain(A_TOKEN);
    expect(readFileSync(other, 'utf8')).toBe(`${A_TOKEN}\n`);
  });

  it('a dangling token link is refused, not created through', async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(archive, { mode: 0o700 });
    const target = join(scratch(), 'would-be-created');
    symlinkSync(target, join(archive, API_TOKEN_FILE));
    await refusal(ensureApiToken(archive));
    expect(existsSync(target)).toBe(false);
  });

  it('a token other users can read is refused: they may know it', async () => {
    const archive = archiveWithToken(`${A_TOKEN}\n`, 0o644);
    const error = await refusal(ensureApiToken(archive));
    expect(error.message).toContain('can be read or written by other users (mode 0644)');
    expect(error.message).not.toContain(A_TOKEN);
  });

  it('a token other users can write is refused: they may have chosen it', async () => {
    const error = await refusal(ensureApiToken(archiveWithToken(`${A_TOKEN}\n`, 0o620)));
    expect(error.message).toContain('(mode 0620)');
  });

  it('a token planted by another user is refused, even with mode 600', async () => {
    const archive = archiveWithToken(`${A_TOKEN}\n`, 0o600, OTHER_USER);
    const error = await refusal(ensureApiToken(archive));
    expect(error.message).toContain(`belongs to uid ${OTHER_USER}`);
    expect(error.message).toContain('planted a token they know');
    expect(error.message).not.toContain(A_TOKEN);
  });

  it('a token file that holds no token is refused with what to do, not a stack trace', async () => {
    const error = await refusal(ensureApiToken(archiveWithToken('Authorization: x\r\ny\n')));
    expect(error.message).toContain('does not hold an API token');
    expect(error.message).toContain('popvault serve creates a new token');
  });

  it("a new token and its header file are created owner-only, and a link in the header file's place is replaced, not followed", async () => {
    const archive = join(scratch(), 'archive');
    mkdirSync(archive, { mode: 0o700 });
    const other = join(scratch(), 'other');
    writeFileSync(other, 'untouched\n');
    symlinkSync(other, join(archive, API_AUTH_HEADER_FILE));
    const first = await ensureApiToken(archive);
    expect(first.created).toBe(true);
    for (const path of [first.tokenPath, first.headerPath]) {
      const info = lstatSync(path);
      expect(info.isFile()).toBe(true);
      expect(info.mode & 0o777).toBe(0o600);
    }
    expect(readFileSync(first.tokenPath, 'utf8')).toBe(`${first.token}\n`);
    expect(readFileSync(first.headerPath, 'utf8')).toBe(`Authorization: Bearer ${first.token}\n`);
    expect(readFileSync(other, 'utf8')).toBe('untouched\n');
    const again = await ensureApiToken(archive);
    expect(again).toMatchObject({ token: first.token, created: false });
  });

  it('popvault serve with a planted token exits 2 with one line saying what to do, never the token', async () => {
    const archive = archiveWithToken(`${A_TOKEN}\n`, 0o600, OTHER_USER);
    const result = await popvault(['serve', '--archive', archive, '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.out.trim().split('\n')).toHaveLength(1);
    expect(result.out).toContain('planted a token they know');
    expect(result.out).not.toContain(A_TOKEN);
  });

  it("popvault list on another user's archive directory exits 2 with one line", async () => {
    const archive = join(scratch(), 'theirs');
    mkdirSync(archive, { mode: 0o700 });
    chownSync(archive, OTHER_USER, OTHER_USER);
    const result = await popvault(['list', '--archive', archive]);
    expect(result.code).toBe(2);
    expect(result.out.trim().split('\n')).toHaveLength(1);
    expect(result.out).toContain(`belongs to uid ${OTHER_USER}`);
  });
});
