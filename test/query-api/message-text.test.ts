/** A message's text: decoded from the stored raw message, bounded, and never HTML. */
import { beforeAll, describe, expect, it } from 'vitest';
import { app, idOf, seedQueryAppArchive } from './query-app-fixture.js';

beforeAll(seedQueryAppArchive);

async function textOf(path: string): Promise<{ text: string; truncated: boolean }> {
  const res = await app.request(path);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/json');
  return (await res.json()) as { text: string; truncated: boolean };
}

describe('GET /messages/{id}/text', () => {
  it('is the text of a plain message, as sent', async () => {
    const { text, truncated } = await textOf(`/messages/${idOf('lunch')}/text`);
    expect(text).toContain('Are you free for lunch on Thursday?');
    expect(text).toContain('Cheers,');
    expect(truncated).toBe(false);
  });

  it('is the same under the mailbox path', async () => {
    expect(await textOf(`/mailboxes/work/messages/${idOf('lunch')}/text`)).toEqual(
      await textOf(`/messages/${idOf('lunch')}/text`),
    );
  });

  it('an HTML attachment is never served as the message text, let alone as HTML', async () => {
    const { text } = await textOf(`/messages/${idOf('active')}/text`);
    expect(text).not.toContain('<script');
    expect(text).not.toContain('alert(document.cookie)');
  });
});
