import type { Pop3Client } from '../pop3/client.js';
import { Pop3Error, Pop3ProtocolError } from '../pop3/errors.js';
import type { ListedMessage } from './plan-retrieval.js';

export interface ListedMailbox {
  /** Messages this run may retrieve or delete. */
  messages: ListedMessage[];
  /** Messages the server listed, malformed lines and entries past the cap included. */
  serverCount: number;
  /** Lines that did not parse: each message named is left alone, and recorded as a failure. */
  unusable: Array<{ key: string; error: Pop3ProtocolError }>;
  /** Some entries were past the listing cap (MAX_LISTING_ENTRIES) and wait for a later run. */
  capped: boolean;
}

export async function listMessages(
  client: Pop3Client,
  hasUidl: boolean,
  uidlOptional: boolean,
  noUidl: () => Error,
): Promise<ListedMailbox> {
  // UIDL goes first (both are pipelined, so it costs nothing): GNU Mailutils pop3d 3.15 adds an
  // X-UIDL header to a message the first time it lists its UIDL, and serves and lists it with that
  // header from then on; a LIST sent before the UIDL would give sizes 55-57 octets short of what
  // RETR then serves.
  const uids = hasUidl
    ? client.uidListing().catch((err: unknown) => {
        // A server without CAPA may still lack UIDL: delete mode can do without it, the others
        // get the same clear refusal as when CAPA says so.
        if (err instanceof Pop3Error && err.code === 'COMMAND_FAILED') {
          if (uidlOptional) return null;
          throw noUidl();
        }
        throw err;
      })
    : Promise.resolve(null);
  const [scan, uidList] = await Promise.all([client.scanListing(), uids]);
  const unusable: ListedMailbox['unusable'] = [];
  const excluded = new Set<number>();
  for (const [verb, listing] of [
    ['LIST', scan],
    ['UIDL', uidList],
  ] as const) {
    if (listing === null) continue;
    for (const bad of listing.malformed) {
      if (bad.msg !== null) excluded.add(bad.msg);
      unusable.push({
        key: bad.msg === null ? verb : `#${bad.msg}`,
        error: new Pop3ProtocolError('PROTOCOL_VIOLATION', `malformed ${verb} line ${bad.line}`),
      });
    }
    // Lines past the ones kept are counted, not listed: they are failures all the same.
    const unkept = listing.malformedCount - listing.malformed.length;
    if (unkept > 0) {
      unusable.push({
        key: verb,
        error: new Pop3ProtocolError(
          'PROTOCOL_VIOLATION',
          `${unkept} more malformed ${verb} lines`,
        ),
      });
    }
  }
  const uidOf = new Map((uidList?.entries ?? []).map((u) => [u.msg, u.uid]));
  const uidsComplete = uidList === null || uidList.dropped === 0;
  const messages: ListedMessage[] = [];
  for (const s of scan.entries) {
    if (excluded.has(s.msg)) continue;
    const uidl = uidOf.get(s.msg) ?? null;
    // Past the UIDL cap a message's id is unknown, not absent: leave it for a later run.
    if (uidl === null && !uidsComplete) continue;
    messages.push({ msg: s.msg, octets: s.octets, uidl });
  }
  return {
    messages,
    serverCount: scan.entries.length + scan.dropped + scan.malformedCount,
    unusable,
    capped: scan.dropped > 0 || !uidsComplete,
  };
}
