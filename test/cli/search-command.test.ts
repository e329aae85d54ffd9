import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../functions/cli/cli-error.js';
import { reindexCommand } from '../../functions/cli/commands/reindex.js';
import { searchCommand } from '../../functions/cli/commands/search.js';
import { openLocalArchive } from '../../functions/cli/local-archive.js';
import { main } from '../../functions/cli/main.js';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { fixture, seed } from '../query-api/query-api-kit.js';
import { withFaults } from '../support/pull-test-kit.js';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  return {
    io: { stdout, stderr, env: {} },
    out: () => Buffer.concat(out).toString('utf8'),
    err: () => Buffer.concat(err).toString('utf8'),
  };
}

/** An archive whose records were written without their text, as before search existed. */
async function archiveFromBeforeSearch(): Promise<string> {
  const directory = join(mkdtempSync(join(tmpdir(), 'popvault-search-cli-')), 'archive');
  const archive = await openLocalArchive(directory);
  const withoutText = withFaults(archive.index, {
    putMessage: (record: MessageRecord) => archive.index.putMessage(record),
  });
  const target = { index: withoutText, store: archive.rawStore };
  await seed(target, {
    mailboxId: 'work',
    messageKey: 'inv',
    raw: fixture('multipart-alternative-attachments.eml'),
  });
  await seed(target, { mailboxId: 'work', messageKey: 'enc', raw: fixture('encoded-words.eml') });
  await seed(target, { mailboxId: 'home', messageKey: 'lunch', raw: fixture('plain-text.eml') });
  archive.close();
  return directory;
}

describe('popvault search and reindex', () => {
  it('finds nothing in an archive from before search until reindex reads its mail, and reindex again does nothing', async () => {
    const directory = await archiveFromBeforeSearch();
    const before = io();
    await searchCommand(['invoice', '--archive', directory], before.io);
    expect(before.out()).toBe('(no message matches)\n');

    const first = io();
    expect(await reindexCommand(['--archive', directory], first.io)).toBe(EXIT.ok);
    expect(first.out()).toBe('popvault reindex: indexed the text of 3 messages\n');

    const found = io();
    await searchCommand(['attached', '--archive', directory], found.io);
    expect(found.out()).toMatch(
      / {2}work {2}billing@shop\.example {2}Your invoice 2024-0042\n {4}.*\[attached\]/,
    );

    const again = io();
    expect(await reindexCommand(['--archive', directory], again.io)).toBe(EXIT.ok);
    expect(again.out()).toBe('popvault reindex: every message is already indexed\n');
  });

  it('searches one mailbox with --mailbox, answers --json, and names a bad query', async () => {
    const directory = await archiveFromBeforeSearch();
    await reindexCommand(['--archive', directory], io().io);
    const json = io();
    await searchCommand(['from:françois', '--archive', directory, '--json'], json.io);
    expect(
      JSON.parse(json.out()).items.map((hit: { messageKey: string }) => hit.messageKey),
    ).toEqual(['enc']);
    const other = io();
    await searchCommand(['lunch', '--mailbox', 'work', '--archive', directory], other.io);
    expect(other.out()).toBe('(no message matches)\n');
    await expect(searchCommand(['"unbalanced', '--archive', directory], io().io)).rejects.toThrow(
      /unbalanced quote.*\(INVALID_QUERY\)/,
    );
    await expect(searchCommand(['two', 'words', '--archive', directory], io().io)).rejects.toThrow(
      CliError,
    );
  });

  it('is listed in the usage and has help', async () => {
    const usage = io();
    await main(['help', 'search'], usage.io);
    expect(usage.out()).toContain('popvault search QUERY');
    expect(usage.out()).toContain('has:attachment');
    const help = io();
    await main(['reindex', '--help'], help.io);
    expect(help.out()).toContain('Safe to stop and run again');
  });
});
