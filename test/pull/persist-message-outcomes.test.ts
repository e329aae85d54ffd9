import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MessageMetadata, MessageRecord } from '../../functions/core/archive/ports.js';
import { EMPTY_METADATA } from '../../functions/core/message/empty-metadata.js';
import type { SpooledMessage } from '../../functions/core/pull/message-spool.js';
import { persistMessage } from '../../functions/core/pull/persist-message.js';
import type { MessageText } from '../../functions/core/search/search-ports.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';

function spooled(
  body: string,
  parts: { metadata?: Promise<MessageMetadata>; text?: Promise<MessageText> } = {},
): SpooledMessage {
  const data = Buffer.from(body);
  return {
    sha256: createHash('sha256').update(data).digest('hex'),
    octets: data.length,
    lineEnds: 0,
    source: { kind: 'buffer', data },
    metadata: parts.metadata ?? Promise.resolve({ ...EMPTY_METADATA }),
    text: parts.text ?? Promise.resolve({ body, truncated: false }),
    cleanup: async () => {},
  };
}

function target() {
  const index = new MemoryMessageIndex();
  const texts: Array<MessageText | undefined> = [];
  return {
    index,
    texts,
    target: {
      rawStore: new MemoryRawStore(),
      index: {
        putMessage: (record: MessageRecord, text?: MessageText) => {
          texts.push(text);
          return index.putMessage(record);
        },
      },
      mailboxId: 'box',
      runId: 'run-1',
      now: () => Date.UTC(2026, 0, 1),
    },
  };
}

const listed = { msg: 1, uidl: 'u1', octets: 5 };

describe('persistMessage', () => {
  it('a parser that failed with a huge message leaves a parse error cut to 200 characters', async () => {
    const t = target();
    const failing = Promise.reject(new Error('x'.repeat(500)));
    const result = await persistMessage(listed, spooled('hello', { metadata: failing }), t.target);
    expect(result.ok).toBe(true);
    const [record] = [...t.index.messages.values()];
    expect(record?.parseError).toBe(`parser failed: ${'x'.repeat(200)}`);
  });

  it('a text extraction that failed indexes the message with an empty, untruncated text', async () => {
    const t = target();
    const failing = Promise.reject(new Error('text extraction failed'));
    const result = await persistMessage(listed, spooled('hello', { text: failing }), t.target);
    expect(result.ok).toBe(true);
    expect(t.texts).toEqual([{ body: '', truncated: false }]);
  });

  it('a new message, and the same bytes again, are not variants', async () => {
    const t = target();
    expect(await persistMessage(listed, spooled('hello'), t.target)).toEqual({
      ok: true,
      messageKey: 'u1',
      created: true,
      variant: false,
    });
    expect(await persistMessage(listed, spooled('hello'), t.target)).toEqual({
      ok: true,
      messageKey: 'u1',
      created: false,
      variant: false,
    });
  });

  it('other bytes under a UIDL already archived are kept apart as a variant', async () => {
    const t = target();
    await persistMessage(listed, spooled('hello'), t.target);
    const other = spooled('other bytes');
    expect(await persistMessage(listed, other, t.target)).toEqual({
      ok: true,
      messageKey: `u1#sha256:${other.sha256}`,
      created: true,
      variant: true,
    });
  });
});
