/**
 * What the viewer's browser tests share: a local archive seeded by the test, `popvault serve`'s
 * server over it, Debian's chromium, and a page signed in through a fresh one-time link.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type Served, startLocalApi } from '../../functions/cli/commands/serve.js';
import { openLocalArchive } from '../../functions/cli/local-archive.js';
import type { Archive } from '../query-api/query-api-kit.js';
import { launchBrowser } from './browser.js';

/** Where the tests write their screenshots (README shows two of them, copied to docs/). */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'reports', 'screenshots');

export interface ViewerLab {
  served: Served;
  browser: Browser;
  stop(): Promise<void>;
}

export async function startViewerLab(
  fill: (archive: Archive) => Promise<void>,
): Promise<ViewerLab> {
  const directory = mkdtempSync(join(tmpdir(), 'popvault-viewer-'));
  const archive = await openLocalArchive(directory);
  try {
    await fill({ index: archive.index, store: archive.rawStore });
  } finally {
    archive.close();
  }
  const served = await startLocalApi(directory, 0);
  const browser = await launchBrowser();
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    served,
    browser,
    stop: async () => {
      await browser.close();
      await served.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A new browser context signed in with a link of its own, on the mailbox list. */
export async function signedIn(
  lab: ViewerLab,
  options: { acceptDownloads?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await lab.browser.newContext(options);
  const page = await context.newPage();
  await page.goto(lab.served.newLoginUrl());
  await page.locator('#mailboxes').waitFor();
  return { context, page };
}
