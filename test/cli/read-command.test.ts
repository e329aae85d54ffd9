import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../functions/cli/cli-error.js';
import { readCommand } from '../../functions/cli/commands/read.js';
import { openLocalArchive } from '../../functions/cli/local-archive.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { fixture, seed } from '../query-api/query-api-kit.js';

function io() {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  return { io: { stdout, stderr: new PassThrough(), env: {} }, out: () => Buffer.concat(chunks) };
}

describe('popvault show and raw read a message under its own mailbox', () => {
  it('show and raw reach the message through /mailboxes/{mailbox}/messages/{id}, the path an IAM grant of one mailbox allows', async () => {
    const directory = join(mkdtempSync(join(tmpdir(), 'popvault-read-')), 'archive');
    const archive = await openLocalArchive(directory);
    const raw = fixture('plain-text.eml');
    await seed(
      { index: archive.index, store: archive.rawStore },
      { mailboxId: 'work', messageKey: 'u1', raw },
    );
    archive.close();
    const id = encodeMessageRef({ mailboxId: 'work', messageKey: 'u1' });

    const rawOut = io();
    await readCommand('raw', [id, '--archive', directory], rawOut.io);
    expect(rawOut.out().equals(raw)).toBe(true);

    const shown = io();
    await readCommand('show', [id, '--archive', directory, '--json'], shown.io);
    expect(JSON.parse(shown.out().toString('utf8'))).toMatchObject({ mailboxId: 'work' });
  });

  it('an ID that is not one popvault issued is refused with what to do, before any request', async () => {
    const directory = join(mkdtempSync(join(tmpdir(), 'popvault-read-')), 'archive');
    const out = io();
    await expect(
      readCommand('show', ['not/an-id', '--archive', directory], out.io),
    ).rejects.toThrow(CliError);
    await expect(readCommand('raw', ['bm9wZQ', '--archive', directory], out.io)).rejects.toThrow(
      /is not a message ID; take one from "popvault list --mailbox ID"/,
    );
  });
});
