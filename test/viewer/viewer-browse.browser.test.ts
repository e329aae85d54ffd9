/**
 * Reading the archive in chromium: the mailbox list, a mailbox's messages, search, a message with
 * its attachments and raw download, all by keyboard too. Mail is hostile: a subject made of markup
 * must show as text, and the page must ask nothing of any host but this server.
 */
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, seed, seedWorkRuns } from '../query-api/query-api-kit.js';
import {
  SCREENSHOTS,
  signedIn as signIn,
  startViewerLab,
  type ViewerLab,
} from '../support/viewer-kit.js';

const MARKUP_SUBJECT =
  '<img src="https://tracker.example/p.gif" onerror="window.pwned=1"><b>Hi</b>';

let lab: ViewerLab;

beforeAll(async () => {
  lab = await startViewerLab(async (archive) => {
    for (const [key, name] of [
      ['uidl-lunch', 'plain-text.eml'],
      ['uidl-invoice', 'multipart-alternative-attachments.eml'],
      ['uidl-encoded', 'encoded-words.eml'],
    ] as const) {
      await seed(archive, { mailboxId: 'work', messageKey: key, raw: fixture(name) });
    }
    const hostile = Buffer.from(
      `From: a@example.com\r\nSubject: ${MARKUP_SUBJECT}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n`,
    );
    await seed(archive, { mailboxId: 'work', messageKey: 'uidl-markup', raw: hostile });
    // Archived today and two days ago (UTC), for the chart of the last 30 days.
    const day = (ago: number) => new Date(Date.now() - ago * 86_400_000).toISOString();
    for (const [key, ago] of [
      ['chart-today-1', 0],
      ['chart-today-2', 0],
      ['chart-earlier', 2],
    ] as const) {
      await seed(archive, {
        mailboxId: 'charted',
        messageKey: key,
        raw: fixture('plain-text.eml'),
        archivedAt: day(ago),
      });
    }
    await seedWorkRuns(archive.index);
  });
});

afterAll(() => lab?.stop());

/** A signed-in page, and every host it sent a request to. */
async function signedIn(): Promise<{ context: BrowserContext; page: Page; hosts: Set<string> }> {
  const { context, page } = await signIn(lab, { acceptDownloads: true });
  const hosts = new Set<string>();
  page.on('request', (request) => hosts.add(new URL(request.url()).host));
  return { context, page, hosts };
}

describe('the viewer, in chromium', () => {
  it('charts each mailbox’s messages archived per day over the last 30 days', async () => {
    const { context, page } = await signedIn();
    const chart = page.locator('#mailboxes tbody tr', { hasText: 'charted' }).locator('svg.chart');
    expect(await chart.getAttribute('aria-label')).toBe('3 messages archived in the last 30 days');
    const bars = chart.locator('rect');
    expect(await bars.count()).toBe(30);
    // Oldest first: today is the last bar, the tallest; two days ago, half its height; between, none.
    const height = async (i: number) => Number(await bars.nth(i).getAttribute('height'));
    expect([await height(27), await height(28), await height(29)]).toEqual([12, 0, 24]);
    expect(await bars.nth(29).locator('title').textContent()).toBe(
      `${new Date().toISOString().slice(0, 10)}: 2`,
    );
    // The work mailbox's mail was archived in 2024: an empty chart, not an error.
    const work = page.locator('#mailboxes tbody tr', { hasText: 'work' }).locator('svg.chart');
    expect(await work.getAttribute('aria-label')).toBe('0 messages archived in the last 30 days');
    await context.close();
  });

  it('lists a mailbox, moves by keyboard, opens a message and goes back', async () => {
    const { context, page } = await signedIn();
    await page.locator('#mailboxes tbody tr', { hasText: 'work' }).click();
    await page.locator('#messages').waitFor();
    expect(await page.locator('#messages tbody tr').count()).toBe(4);
    await page.screenshot({ path: join(SCREENSHOTS, 'messages.png') });
    await page.keyboard.press('j');
    const selected = page.locator('tr[aria-selected=true]');
    const subject = (await selected.locator('td').first().textContent()) ?? '';
    await page.keyboard.press('Enter');
    await page.locator('#message').waitFor();
    expect(await page.locator('h2').textContent()).toBe(subject);
    await page.keyboard.press('Escape');
    await page.locator('#messages').waitFor();
    await page.locator('#messages tbody tr', { hasText: 'Lunch on Thursday?' }).click();
    await page.locator('#text').waitFor();
    expect(await page.locator('#text').textContent()).toContain(
      'Are you free for lunch on Thursday?',
    );
    await context.close();
  });

  it('searches a mailbox and marks the matching words', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${lab.served.url}/#/mailbox/work`);
    await page.locator('#messages').waitFor();
    await page.keyboard.press('/');
    await page.keyboard.type('invoice');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#messages tbody tr').count()).toBe(1);
    expect(await page.locator('#messages tbody tr').textContent()).toContain(
      'Your invoice 2024-0042',
    );
    expect(await page.locator('#messages mark').count()).toBeGreaterThan(0);
    await context.close();
  });

  it('opens a message with its attachments, and downloads an attachment and the raw .eml', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${lab.served.url}/#/mailbox/work?q=${encodeURIComponent('subject:invoice')}`);
    await page.locator('#messages tbody tr').first().click();
    await page.locator('#attachments li').first().waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'message.png') });
    const [attachment] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#attachments a').first().dispatchEvent('click'),
    ]);
    expect(attachment.suggestedFilename()).not.toContain('/');
    const [raw] = await Promise.all([
      page.waitForEvent('download'),
      page.getByText('Raw message (.eml)').dispatchEvent('click'),
    ]);
    const path = await raw.path();
    expect(path).toBeTruthy();
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(path).equals(fixture('multipart-alternative-attachments.eml'))).toBe(true);
    await context.close();
  });

  it("shows a mailbox's runs, the failed one with its error", async () => {
    const { context, page } = await signedIn();
    await page.goto(`${lab.served.url}/#/mailbox/work`);
    await page.locator('#runs-link').click();
    await page.locator('#runs').waitFor();
    expect(await page.locator('#runs tbody tr').count()).toBe(2);
    const failed = page.locator('#runs tbody tr.failed');
    expect(await failed.textContent()).toContain('AUTH_FAILED: the server refused the password');
    await page.screenshot({ path: join(SCREENSHOTS, 'runs.png') });
    await context.close();
  });

  it('shows a subject made of markup as text: no element, no script, no request elsewhere', async () => {
    const { context, page, hosts } = await signedIn();
    await page.goto(`${lab.served.url}/#/mailbox/work`);
    await page.locator('#messages').waitFor();
    const row = page.locator('#messages tbody tr', { hasText: '<b>Hi</b>' });
    expect(await row.locator('img, b').count()).toBe(0);
    await row.click();
    await page.locator('#message').waitFor();
    expect(await page.locator('h2').textContent()).toBe(MARKUP_SUBJECT);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect([...hosts]).toEqual([new URL(lab.served.url).host]);
    await context.close();
  });
});
