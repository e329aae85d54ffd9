/**
 * A message's HTML, served for a sandboxed frame: hostile markup is fenced by the policy, images
 * inside the message are inlined, and images from other hosts stay blocked unless asked for.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { app, idOf, seedQueryAppArchive } from './query-app-fixture.js';

beforeAll(seedQueryAppArchive);

async function html(path: string): Promise<{ res: Response; body: string; csp: string }> {
  const res = await app.request(path);
  const body = await res.text();
  return { res, body, csp: res.headers.get('content-security-policy') ?? '' };
}

describe('GET /messages/{id}/html', () => {
  it('is the HTML part, with its cid: image inlined and nothing else allowed to load', async () => {
    const { res, body, csp } = await html(`/messages/${idOf('invoice')}/html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(body).toContain('data:image/png;base64,');
    expect(body).not.toContain('cid:pixel@shop.example');
    // Sandboxed: no script, no form, no same-origin access; only inline data: images.
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain('sandbox');
    expect(csp).not.toContain('allow-scripts');
    expect(csp).not.toContain('allow-same-origin');
    expect(csp).toMatch(/img-src data:;/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('lets images from other hosts load only when the reader asks', async () => {
    const { csp } = await html(`/messages/${idOf('invoice')}/html?images=remote`);
    expect(csp).toMatch(/img-src data: https: http:;/);
    expect(csp).toContain('sandbox');
  });

  it('a message without an HTML part answers 404 pointing at its text', async () => {
    const { res, body } = await html(`/messages/${idOf('lunch')}/html`);
    expect(res.status).toBe(404);
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'HTML_NOT_FOUND' } });
  });

  it('an HTML file sent as an attachment is never served as the message body', async () => {
    const { res } = await html(`/messages/${idOf('active')}/html`);
    expect(res.status).toBe(404);
  });
});
