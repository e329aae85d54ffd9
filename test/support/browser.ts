/**
 * A real browser for the tests: Debian's chromium, driven by playwright-core (which downloads no
 * browser of its own). `.ci/run` installs the package; without it the tests fail saying so.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the viewer's tests need Debian's chromium (apt-get install chromium; .ci/run does this)`,
    );
  }
  // As root (CI) chromium refuses to start with its sandbox; the pages it opens are our own.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}
