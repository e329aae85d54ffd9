import { backfillTexts } from '../../core/search/text-backfill.js';
import { parseCommandArgs } from '../args.js';
import { EXIT } from '../cli-error.js';
import { defaultArchiveDirectory, openLocalArchive } from '../local-archive.js';
import type { CommandIo } from './pull.js';

export const REINDEX_HELP = `popvault reindex: make messages archived before search existed searchable

Usage:
  popvault reindex [--archive DIR]

Reads the archived raw message of every record whose text is not in the search index yet and
indexes its text. Safe to stop and run again: it continues with the messages still missing, and a
run with nothing left to do changes nothing. Messages pulled since search exists need none of this.
`;

const OPTIONS = {
  archive: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Progress is reported every this many messages (and at the end). */
const PROGRESS_EVERY = 500;

export async function reindexCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('reindex', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(REINDEX_HELP);
    return EXIT.ok;
  }
  const archive = await openLocalArchive(values.archive ?? defaultArchiveDirectory(io.env));
  try {
    const result = await backfillTexts({
      rawStore: archive.rawStore,
      index: archive.index,
      onProgress: (progress) => {
        const done = progress.indexed + progress.failed;
        if (done % PROGRESS_EVERY === 0)
          io.stderr.write(`popvault reindex: ${done} messages read\n`);
      },
      onFailure: (record, message) =>
        io.stderr.write(
          `popvault reindex: ${record.mailboxId} ${record.messageKey}: cannot read its raw message (${message}); it stays unsearchable until it can be read\n`,
        ),
    });
    io.stdout.write(
      result.indexed + result.failed === 0
        ? 'popvault reindex: every message is already indexed\n'
        : `popvault reindex: indexed the text of ${result.indexed} messages${result.failed > 0 ? `; ${result.failed} could not be read` : ''}\n`,
    );
    return result.failed > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    archive.close();
  }
}
