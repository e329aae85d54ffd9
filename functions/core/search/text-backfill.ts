/**
 * `popvault reindex`: gives records archived before their text was kept (or put without it) their
 * text, read from their raw message with the same parser the pull run uses. Resumable and
 * idempotent by construction: each record's text is written in a transaction of its own, and the
 * walk asks the index which records still have none, so a run killed midway continues where it
 * stopped and a second run finds nothing to do.
 */
import { pipeline } from 'node:stream/promises';
import type { MessageRecord, RawStore } from '../archive/ports.js';
import { classifyError } from '../errors/popvault-error.js';
import { createMessageParser } from '../message/message-parser.js';
import type { MessageText } from './search-ports.js';

/** What the backfill needs of an index that searches. */
export interface TextBackfillTarget {
  /** Records without indexed text, in a stable order after `after` (null: from the start). */
  textlessRecords(
    after: { mailboxId: string; messageKey: string } | null,
    limit: number,
  ): Promise<MessageRecord[]>;
  backfillText(record: MessageRecord, text: MessageText): Promise<void>;
}

export interface BackfillProgress {
  indexed: number;
  failed: number;
}

export interface BackfillOptions {
  rawStore: RawStore;
  index: TextBackfillTarget;
  /** Called after each record, for a progress line. */
  onProgress?: (progress: BackfillProgress) => void;
  /** Called for each record whose raw message could not be read; the walk goes on. */
  onFailure?: (record: MessageRecord, message: string) => void;
}

/** Records read per query: small enough that a page costs nothing, large enough to be few pages. */
const BATCH = 100;

/** The text of one archived message, read from its raw bytes. */
export async function textOfRaw(
  rawStore: Pick<RawStore, 'get'>,
  rawKey: string,
): Promise<MessageText> {
  const parser = createMessageParser();
  await pipeline(await rawStore.get(rawKey), parser.sink);
  return parser.text;
}

export async function backfillTexts(options: BackfillOptions): Promise<BackfillProgress> {
  const progress: BackfillProgress = { indexed: 0, failed: 0 };
  let after: { mailboxId: string; messageKey: string } | null = null;
  for (;;) {
    const records = await options.index.textlessRecords(after, BATCH);
    for (const record of records) {
      try {
        await options.index.backfillText(record, await textOfRaw(options.rawStore, record.rawKey));
        progress.indexed += 1;
      } catch (error) {
        // A missing or unreadable raw message stays textless; the next run tries it again.
        progress.failed += 1;
        options.onFailure?.(record, classifyError(error).message);
      }
      options.onProgress?.(progress);
    }
    const last = records.at(-1);
    if (last === undefined || records.length < BATCH) return progress;
    after = { mailboxId: last.mailboxId, messageKey: last.messageKey };
  }
}
