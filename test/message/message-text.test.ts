import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  MAX_INDEXED_HTML_SOURCE,
  MAX_INDEXED_TEXT_LENGTH,
  SNIPPET_LENGTH,
} from '../../functions/core/message/message-limits.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';

async function parsed(raw: string | Buffer) {
  const parser = createMessageParser();
  await pipeline(
    Readable.from([Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8')]),
    parser.sink,
  );
  return { metadata: await parser.metadata, text: await parser.text };
}

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/mail/${name}`, import.meta.url));
}

const HEAD = 'From: a@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n';

describe('the text the parser keeps for the search index', () => {
  it('keeps the whole plain text, far past the snippet, whitespace collapsed', async () => {
    const words = Array.from({ length: 400 }, (_, i) => `word${i}`).join('\r\n  ');
    const { metadata, text } = await parsed(`${HEAD}\r\n${words}\r\n`);
    expect(metadata.snippet.length).toBeLessThanOrEqual(SNIPPET_LENGTH);
    expect(text.body).toBe(Array.from({ length: 400 }, (_, i) => `word${i}`).join(' '));
    expect(text.truncated).toBe(false);
    expect(metadata.textTruncated).toBe(false);
  });

  it('decodes transfer encodings and charsets', async () => {
    const { text } = await parsed(fixture('encoded-words.eml'));
    expect(text.body).toContain('Grüße aus München!');
  });

  it('reduces HTML to text when there is no plain text: no markup, no style, entities decoded', async () => {
    const html =
      '<html><head><style>.x { color: red }</style></head><body><p>Fish &amp; <b>chips</b></p>' +
      '<div>Tuesday&nbsp;special</div><script>var hidden = 1;</script></body></html>';
    const { text } = await parsed(
      `${HEAD}Content-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`,
    );
    expect(text.body).toBe('Fish & chips Tuesday special');
    expect(text.body).not.toMatch(/color|hidden|<|>/);
  });

  it('indexes the plain alternative alone when a message has both', async () => {
    const { text } = await parsed(fixture('multipart-alternative-attachments.eml'));
    expect(text.body).toContain('Thank you for your order — your invoice is attached.');
    expect(text.body.match(/Thank you/g)).toHaveLength(1);
  });

  it('drops control characters, so the snippet marks never come from the mail', async () => {
    const { text } = await parsed(`${HEAD}\r\nbefore\u0002inside\u0003after\r\n`);
    expect(text.body).toBe('before inside after');
  });

  it(`cuts plain text at MAX_INDEXED_TEXT_LENGTH and says so`, async () => {
    const line = `${'abcdefghi '.repeat(100)}\r\n`;
    const body = line.repeat(Math.ceil((MAX_INDEXED_TEXT_LENGTH * 1.5) / line.length));
    const { metadata, text } = await parsed(`${HEAD}\r\n${body}`);
    expect(text.body.length).toBe(MAX_INDEXED_TEXT_LENGTH);
    expect(text.truncated).toBe(true);
    expect(metadata.textTruncated).toBe(true);
  });

  it('cuts HTML at MAX_INDEXED_HTML_SOURCE and says so', async () => {
    const cell = '<td style="padding:0;margin:0;border:0">x</td>';
    const html = `<table><tr>${cell.repeat(Math.ceil(MAX_INDEXED_HTML_SOURCE / cell.length) + 10)}</tr></table><p>tail</p>`;
    const { metadata, text } = await parsed(
      `${HEAD}Content-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`,
    );
    expect(text.body).not.toContain('tail');
    expect(text.truncated).toBe(true);
    expect(metadata.textTruncated).toBe(true);
  });

  it('keeps the text read before a failure: the message is still archived and searchable', async () => {
    const parser = createMessageParser();
    parser.sink.write(Buffer.from(`${HEAD}\r\nfirst words of a message cut off`));
    await new Promise((resolve) => setImmediate(resolve));
    parser.sink.destroy(new Error('socket closed'));
    const metadata = await parser.metadata;
    expect(metadata.parseError).toBe('the message stream was aborted before its end');
    expect((await parser.text).body).toBe('first words of a message cut off');
  });

  it('gives the text of a message that is just text', async () => {
    const { text } = await parsed(fixture('just-text.eml'));
    expect(text.body).toContain('just text, the way a broken gateway might deliver it');
  });
});
