import type { MessageIndex, MessageMetadata, MessageRecord, RawStore } from '../archive/ports.js';
import { classifyError } from '../errors/popvault-error.js';
import { EMPTY_METADATA } from '../message/empty-metadata.js';
import type { MessageText } from '../search/search-ports.js';
import type { SpooledMessage } from './message-spool.js';
import type { ListedMessage } from './plan-retrieval.js';

export interface PersistTarget {
  rawStore: RawStore;
  index: Pick<MessageIndex, 'putMessage'>;
  mailboxId: string;
  runId: string;
  now: () => number;
}

/**
 * What persisting one message came to: the key of the record that now describes these exact bytes
 * (so the message may be deleted), and whether that record is new; or the error that stopped it.
 */
export type PersistResult =
  | { ok: true; messageKey: string; created: boolean; variant: boolean }
  | { ok: false; label: string; error: unknown };

/** Uploads the raw bytes, then writes the index record; never throws. */
export async function persistMessage(
  listed: ListedMessage,
  spooled: SpooledMessage,
  target: PersistTarget,
): Promise<PersistResult> {
  const label = listed.uidl ?? `sha256:${spooled.sha256}`;
  try {
    const raw = await target.rawStore.put({
      mailboxId: target.mailboxId,
      sha256: spooled.sha256,
      octets: spooled.octets,
      source: spooled.source,
    });
    const metadata = await spooled.metadata.catch(
      (err: unknown): MessageMetadata => ({
        ...EMPTY_METADATA,
        parseError: `parser failed: ${classifyError(err).message.slice(0, 200)}`,
      }),
    );
    // A parser that failed still leaves the message archived; it is searchable by its record alone.
    const text = await spooled.text.catch((): MessageText => ({ body: '', truncated: false }));
    const record: MessageRecord = {
      ...metadata,
      mailboxId: target.mailboxId,
      messageKey: label,
      uidl: listed.uidl,
      octets: spooled.octets,
      sha256: spooled.sha256,
      rawKey: raw.key,
      archivedAt: new Date(target.now()).toISOString(),
      runId: target.runId,
      deletedFromServerAt: null,
    };
    const first = await target.index.putMessage(record, text);
    if (first.created) return { ok: true, messageKey: label, created: true, variant: false };
    if (first.existing.sha256 === spooled.sha256) {
      return { ok: true, messageKey: first.existing.messageKey, created: false, variant: false };
    }
    // The UIDL already names other bytes (a reused or duplicated UIDL): keep both, apart.
    const variantKey = `${label}#sha256:${spooled.sha256}`;
    const second = await target.index.putMessage({ ...record, messageKey: variantKey }, text);
    return { ok: true, messageKey: variantKey, created: second.created, variant: true };
  } catch (error) {
    return { ok: false, label, error };
  }
}
