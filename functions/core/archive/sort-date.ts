/**
 * How both indexes order messages and runs: by UTC ISO 8601 strings, which sort as their instants,
 * and by the first From address, lower-cased. Shared so the SQLite and DynamoDB listings agree.
 */
import { ArchiveError } from './errors.js';
import type { MessageRecord } from './ports.js';

// ISO 8601 strings order like their instants only in one shape: toISOString()'s, with a four-digit
// year. Years outside 0000-9999 (a Date header of "Jan 1 99999") print as "+099999-..." and would
// sort wrongly, so they count as unparseable.
const MIN_SORTABLE_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_SORTABLE_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** `value` as a sortable UTC ISO string, or null when it is not a date in years 0000-9999. */
export function toSortableIso(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || ms < MIN_SORTABLE_MS || ms > MAX_SORTABLE_MS) return null;
  return new Date(ms).toISOString();
}

/** A timestamp the caller controls (archivedAt, startedAt, since/until) must be a date. */
export function requireSortableIso(field: string, value: string): string {
  const iso = toSortableIso(value);
  if (iso === null) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      `${field} is not an ISO 8601 date: ${value.slice(0, 80)}`,
    );
  }
  return iso;
}

/** The message's date, or the archive time when the Date header did not parse. */
export function sortDateOf(record: Pick<MessageRecord, 'date' | 'archivedAt'>): string {
  return toSortableIso(record.date) ?? requireSortableIso('archivedAt', record.archivedAt);
}

/** First From address, lower-cased; null when there is none to index. */
export function senderOf(record: Pick<MessageRecord, 'from'>): string | null {
  const address = record.from[0]?.address.trim().toLowerCase() ?? '';
  return address === '' ? null : address;
}
