/** What the flush and the query accept as a pending document or a manifest read from the bucket. */
import { describe, expect, it } from 'vitest';
import { emptyManifest, parseManifest } from '../../functions/adapters/aws/search-manifest.js';
import { parsePending, parsePendingEntry } from '../../functions/adapters/aws/search-pending.js';

const DOCUMENT = {
  mailboxId: 'm',
  messageKey: 'k',
  sortDate: '2026-12-05T00:00:00.000Z',
  subject: 's',
  from: 'f',
  to: 't',
  attachmentNames: '',
  body: 'b',
  hasAttachments: false,
};

const SEGMENT = {
  id: '000000000001-0123456789abcdef',
  sequence: 1,
  documents: 3,
  octets: 4096,
  createdAt: '2026-12-05T00:00:00.000Z',
};

describe('parsePendingEntry', () => {
  it('carries the digest the text was journalled with; a document from before it has none', () => {
    const sha256 = 'c'.repeat(64);
    expect(parsePendingEntry({ version: 1, sha256, document: DOCUMENT }, 'm')).toEqual({
      document: DOCUMENT,
      sha256,
    });
    expect(parsePendingEntry({ version: 1, document: DOCUMENT }, 'm')).toEqual({
      document: DOCUMENT,
      sha256: null,
    });
  });

  it('threat: a forged digest is not taken as "no digest" (which would index it unchecked)', () => {
    for (const sha256 of ['C'.repeat(64), 'c'.repeat(63), 42, null]) {
      expect(parsePendingEntry({ version: 1, sha256, document: DOCUMENT }, 'm')).toBeNull();
    }
  });
});

describe('parsePending', () => {
  it('takes a document of this mailbox, and nothing else', () => {
    expect(parsePending({ version: 1, document: DOCUMENT }, 'm')).toEqual(DOCUMENT);
    expect(parsePending({ version: 1, document: DOCUMENT }, 'other')).toBeNull();
    expect(parsePending({ version: 2, document: DOCUMENT }, 'm')).toBeNull();
    expect(parsePending({ version: 1, document: { ...DOCUMENT, body: 3 } }, 'm')).toBeNull();
    expect(
      parsePending({ version: 1, document: { ...DOCUMENT, hasAttachments: 'no' } }, 'm'),
    ).toBeNull();
    expect(parsePending({ version: 1, document: [] }, 'm')).toBeNull();
    expect(parsePending(null, 'm')).toBeNull();
  });

  it('keeps only the document fields', () => {
    expect(parsePending({ version: 1, document: { ...DOCUMENT, extra: 'x' } }, 'm')).toEqual(
      DOCUMENT,
    );
  });
});

describe('parseManifest', () => {
  const manifest = { version: 1, mailboxId: 'm', segments: [SEGMENT], updatedAt: 'x' };

  it('accepts a manifest of this mailbox', () => {
    expect(parseManifest(manifest, 'm', 'key')).toEqual(manifest);
    expect(parseManifest(emptyManifest('m'), 'm', 'key').segments).toEqual([]);
  });

  it('refuses another mailbox’s manifest, or one whose segment ids could name other keys', () => {
    expect(() => parseManifest(manifest, 'n', 'key')).toThrow(
      /not a popvault manifest of mailbox n/,
    );
    for (const id of ['../../raw/x', '000000000001-0123456789ABCDEF', '1-0123456789abcdef']) {
      expect(() =>
        parseManifest({ ...manifest, segments: [{ ...SEGMENT, id }] }, 'm', 'key'),
      ).toThrow(/STORE_CORRUPT|not a popvault manifest/);
    }
    expect(() =>
      parseManifest({ ...manifest, segments: [{ ...SEGMENT, octets: -1 }] }, 'm', 'k'),
    ).toThrow();
    expect(() => parseManifest('[]', 'm', 'k')).toThrow();
  });
});
