import { describe, expect, it } from 'vitest';
import type { Pop3Client } from '../../functions/core/pop3/client.js';
import { Pop3Error, Pop3ProtocolError } from '../../functions/core/pop3/errors.js';
import type { Listing, ScanListing, UidListing } from '../../functions/core/pop3/listing.js';
import { listMessages } from '../../functions/core/pull/list-messages.js';

function listing<T>(entries: T[], more: Partial<Listing<T>> = {}): Listing<T> {
  return { entries, malformed: [], malformedCount: 0, dropped: 0, ...more };
}

/** Only the two listing calls listMessages makes. */
function client(scan: Listing<ScanListing>, uids: () => Promise<Listing<UidListing>>): Pop3Client {
  return { scanListing: async () => scan, uidListing: uids } as unknown as Pop3Client;
}

const noUidl = () => new Error('no UIDL');
const twoScanned = listing([
  { msg: 1, octets: 10 },
  { msg: 2, octets: 20 },
]);

describe('listMessages', () => {
  it('a UIDL refused by a server that is not -ERR propagates as it is, even where UIDL is optional', async () => {
    const broken = new Pop3ProtocolError('PROTOCOL_VIOLATION', 'garbage status line');
    const c = client(twoScanned, () => Promise.reject(broken));
    await expect(listMessages(c, true, true, noUidl)).rejects.toBe(broken);
  });

  it('a UIDL answered -ERR, where UIDL is optional, lists every message without an id', async () => {
    const refused = new Pop3Error('COMMAND_FAILED', 'UIDL: -ERR unknown command');
    const c = client(twoScanned, () => Promise.reject(refused));
    const listed = await listMessages(c, true, true, noUidl);
    expect(listed.messages).toEqual([
      { msg: 1, octets: 10, uidl: null },
      { msg: 2, octets: 20, uidl: null },
    ]);
  });

  it('malformed LIST lines name the line, and the ones not kept are still counted as failures', async () => {
    const scan = listing([{ msg: 1, octets: 10 }], {
      malformed: [{ msg: 2, line: '"2 lots"' }],
      malformedCount: 4,
    });
    const listed = await listMessages(
      client(scan, async () => listing([])),
      false,
      true,
      noUidl,
    );
    expect(listed.unusable.map((u) => [u.key, u.error.code, u.error.message])).toEqual([
      ['#2', 'PROTOCOL_VIOLATION', 'malformed LIST line "2 lots"'],
      ['LIST', 'PROTOCOL_VIOLATION', '3 more malformed LIST lines'],
    ]);
    expect(listed.serverCount).toBe(5);
  });

  it('past the UIDL cap, a message without a known id waits for a later run', async () => {
    const uids = listing([{ msg: 1, uid: 'a' }], { dropped: 1 });
    const listed = await listMessages(
      client(twoScanned, async () => uids),
      true,
      false,
      noUidl,
    );
    expect(listed.messages).toEqual([{ msg: 1, octets: 10, uidl: 'a' }]);
    expect(listed.capped).toBe(true);
  });

  it('a LIST past its cap marks the listing capped even when every UIDL came', async () => {
    const scan = listing([{ msg: 1, octets: 10 }], { dropped: 2 });
    const uids = listing([{ msg: 1, uid: 'a' }]);
    const listed = await listMessages(
      client(scan, async () => uids),
      true,
      false,
      noUidl,
    );
    expect(listed.capped).toBe(true);
    expect(listed.serverCount).toBe(3);
  });
});
