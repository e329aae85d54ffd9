/**
 * Signing in to the viewer in a real browser: the one-time link `popvault serve` prints opens the
 * viewer signed in, leaves no code in the address bar or the history, gives the page no cookie it
 * could read, and is worth nothing the second time.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, run, seed } from '../query-api/query-api-kit.js';
import { SCREENSHOTS, startViewerLab, type ViewerLab } from '../support/viewer-kit.js';

let lab: ViewerLab;

beforeAll(async () => {
  lab = await startViewerLab(async (archive) => {
    await seed(archive, {
      mailboxId: 'work',
      messageKey: 'uidl-1',
      raw: fixture('plain-text.eml'),
    });
    await archive.index.putRun(run('work', 'run-1'));
  });
});

afterAll(() => lab?.stop());

describe('the one-time sign-in link, in chromium', () => {
  it('opens the viewer signed in, and the code leaves the address bar and the history', async () => {
    const context = await lab.browser.newContext();
    const page = await context.newPage();
    await page.goto(lab.served.loginUrl);
    await page.locator('#mailboxes').waitFor();
    expect(await page.locator('#mailboxes tbody tr').first().textContent()).toContain('work');
    expect(page.url()).toBe(`${lab.served.url}/`);
    // The history entry itself was rewritten: back and forward again, the code is not there.
    await page.goBack();
    await page.goForward();
    expect(page.url()).toBe(`${lab.served.url}/`);
    // HttpOnly: nothing in the page (or mail shown in it) can read the session.
    expect(await page.evaluate('document.cookie')).toBe('');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The session holds across a reload, with no code in the URL.
    await page.reload();
    await page.locator('#mailboxes').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'mailboxes.png') });
    await context.close();
  });

  it('the same link a second time, in a fresh browser, signs nobody in and says why', async () => {
    const context = await lab.browser.newContext();
    const page = await context.newPage();
    await page.goto(lab.served.loginUrl);
    await expect.poll(() => page.locator('#status').textContent()).toContain('already used');
    expect(await context.cookies()).toEqual([]);
    const api = await page.evaluate("fetch('/mailboxes').then((r) => r.status)");
    expect(api).toBe(401);
    await context.close();
  });
});
