/**
 * The AWS side of `popvault reindex`: messages archived before search was on (a stack deployed
 * before it, then updated) get their text, read back from their raw objects, a bounded batch per
 * run. The puller does it itself, under the mailbox's lease, before each flush: there is no
 * command to remember, and the batch it journals is indexed by the flush that follows.
 *
 * Which records: those archived before the first run that journals. That run writes the state with
 * `before` = its own start, taken before its lease; every record archived since was journalled when
 * it was archived. Should a record be journalled twice anyway, no harm: a segment keeps the newer
 * copy of a message and queries show each message once (search-compaction.ts).
 *
 * Resumable and idempotent: the state (`search/backfill/<mailbox>.json`) holds the listing cursor of
 * the first page not yet journalled, saved after each page. A run that dies journals that page
 * again; a finished backfill costs one GET per run.
 */
import type { ArchiveReader, MessageRecord, RawStore } from '../../core/archive/ports.js';
import { classifyError } from '../../core/errors/popvault-error.js';
import { textOfRaw } from '../../core/search/text-backfill.js';
import type { S3SearchObjects } from './s3-search-objects.js';
import { type DocumentBuilder, journalText } from './search-journal.js';
import { backfillKey } from './search-keys.js';

/**
 * Records read back per run. Each is a GET of the raw message, a parse and a PUT of its text: about
 * 200 ms of a run for ordinary mail, so a 100,000-message archive is searchable after 500 runs
 * (five days at the default schedule) while no run gets much longer.
 */
export const BACKFILL_MESSAGES_PER_RUN = 200;
/** Records listed per page: the cursor is saved after each, so a death costs at most one page. */
const BACKFILL_PAGE = 50;

interface BackfillState {
  version: 1;
  /** Records archived at or after this were journalled when archived. */
  before: string;
  /** The listing cursor of the next page to read; null: from the newest. */
  cursor: string | null;
  done: boolean;
}

export interface BackfillDeps {
  objects: S3SearchObjects;
  reader: Pick<ArchiveReader, 'listMessages'>;
  rawStore: Pick<RawStore, 'get'>;
  toDocument: DocumentBuilder;
  maxMessagesPerRun?: number;
  /** Called for a record whose raw message cannot be read: it stays unsearchable, the walk goes on. */
  onFailure?: (record: MessageRecord, message: string) => void;
}

export interface BackfillReport {
  journalled: number;
  failed: number;
  /** True once every record archived before search has been read. */
  done: boolean;
}

function parseState(value: unknown, key: string): BackfillState | null {
  if (value === null) return null;
  const s = value as Partial<BackfillState> | undefined;
  if (
    typeof s !== 'object' ||
    s.version !== 1 ||
    typeof s.before !== 'string' ||
    !(s.cursor === null || typeof s.cursor === 'string') ||
    typeof s.done !== 'boolean'
  ) {
    throw new Error(`${key} is not a popvault search backfill state; delete it to start over`);
  }
  return s as BackfillState;
}

/**
 * Listed before it is read, as the manifest is (readManifest): the puller's s3:ListBucket is limited
 * to its own search prefixes, and without a list grant that covers a GET, S3 answers a missing key
 * with 403, not 404.
 */
async function readState(objects: S3SearchObjects, key: string): Promise<unknown> {
  const listed = await objects.list(key);
  return listed.some((o) => o.key === key) ? objects.getJson(key) : null;
}

/** Journals the text of up to a batch of old records. Throws on storage failures (the caller logs). */
export async function backfillSearch(
  run: { mailboxId: string; startedAt: number },
  deps: BackfillDeps,
  signal?: AbortSignal,
): Promise<BackfillReport> {
  const { mailboxId } = run;
  const key = backfillKey(mailboxId);
  const state = parseState(await readState(deps.objects, key), key) ?? {
    version: 1,
    before: new Date(run.startedAt).toISOString(),
    cursor: null,
    done: false,
  };
  const report: BackfillReport = { journalled: 0, failed: 0, done: state.done };
  const budget = deps.maxMessagesPerRun ?? BACKFILL_MESSAGES_PER_RUN;
  while (!state.done && report.journalled + report.failed < budget) {
    signal?.throwIfAborted();
    const page = await deps.reader.listMessages(mailboxId, {
      limit: BACKFILL_PAGE,
      cursor: state.cursor,
    });
    for (const record of page.items) {
      if (record.archivedAt >= state.before) continue;
      await journal(record, deps, report);
    }
    state.cursor = page.cursor;
    state.done = page.cursor === null;
    // Not after a lost lease: the new holder owns the state now.
    signal?.throwIfAborted();
    await deps.objects.putJson(key, state);
  }
  report.done = state.done;
  return report;
}

async function journal(
  record: MessageRecord,
  deps: BackfillDeps,
  report: BackfillReport,
): Promise<void> {
  let text: Awaited<ReturnType<typeof textOfRaw>>;
  try {
    text = await textOfRaw(deps.rawStore, record.rawKey);
  } catch (error) {
    report.failed += 1;
    deps.onFailure?.(record, classifyError(error).message);
    return;
  }
  await journalText(deps.objects, record, deps.toDocument(record, text));
  report.journalled += 1;
}
