/**
 * An HTML message in chromium, as an attacker or a tracking sender writes one: its script must not
 * run, its form must not submit, its remote images must not load until the reader asks (each is a
 * read receipt), and its own cid: images must show.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../query-api/query-api-kit.js';
import { SCREENSHOTS, signedIn, startViewerLab, type ViewerLab } from '../support/viewer-kit.js';

/** A 1x1 PNG. */
const PIXEL =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

let lab: ViewerLab;
let beacon: Server;
let beaconUrl: string;
const beaconHits: string[] = [];

function hostileMessage(): Buffer {
  const html = [
    '<html><body><h1 id="greeting">Your parcel</h1>',
    `<script>fetch('${beaconUrl}/script'); document.title = 'ran';</script>`,
    `<img id="remote" src="${beaconUrl}/remote.png"><img id="tracker" src="https://tracker.example/p.gif">`,
    '<img id="logo" src="cid:logo@parcel.example">',
    `<form action="${beaconUrl}/form" method="post"><input name="card"><button id="go">Pay</button></form>`,
    '</body></html>',
  ].join('\r\n');
  return Buffer.from(
    [
      'From: Parcel <noreply@parcel.example>',
      'Subject: Your parcel is waiting',
      'Date: Tue, 02 Jul 2024 09:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: multipart/related; boundary="rel"',
      '',
      '--rel',
      'Content-Type: text/html; charset=utf-8',
      '',
      html,
      '--rel',
      'Content-Type: image/png',
      'Content-Transfer-Encoding: base64',
      'Content-ID: <logo@parcel.example>',
      'Content-Disposition: inline; filename="logo.png"',
      '',
      PIXEL,
      '--rel--',
      '',
    ].join('\r\n'),
  );
}

beforeAll(async () => {
  beacon = createServer((req, res) => {
    beaconHits.push(req.url ?? '');
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => beacon.listen(0, '127.0.0.1', resolve));
  beaconUrl = `http://127.0.0.1:${(beacon.address() as AddressInfo).port}`;
  lab = await startViewerLab(async (archive) => {
    await seed(archive, { mailboxId: 'work', messageKey: 'uidl-parcel', raw: hostileMessage() });
  });
});

afterAll(async () => {
  await lab?.stop();
  await new Promise((resolve) => beacon?.close(resolve));
});

describe('an HTML message, in chromium', () => {
  it('shows it without running its script, sending its form or loading remote images; its own image shows', async () => {
    const { context, page } = await signedIn(lab);
    // Hosts a request actually went to: chromium reports requests its CSP blocked as well, as
    // failures that never left the browser.
    const hosts = new Set<string>();
    context.on('requestfinished', (request) => hosts.add(new URL(request.url()).host));
    context.on('requestfailed', (request) => {
      if (request.failure()?.errorText !== 'csp') {
        hosts.add(new URL(request.url()).host);
      }
    });
    await page.goto(`${lab.served.url}/#/mailbox/work`);
    await page.locator('#messages tbody tr').first().click();
    const frame = page.frameLocator('iframe#html');
    await frame.locator('#greeting').waitFor();
    // The message's own image, inlined: it has a size.
    await expect
      .poll(() =>
        frame.locator('#logo').evaluate((img) => (img as { naturalWidth: number }).naturalWidth),
      )
      .toBe(1);
    // The form may be clicked; a sandbox without allow-forms sends nothing.
    await frame.locator('#go').click();
    await page.screenshot({ path: join(SCREENSHOTS, 'message-html.png') });
    expect(await frame.locator('title, h1').first().evaluate('document.title')).not.toBe('ran');
    expect(beaconHits).toEqual([]);
    expect([...hosts]).toEqual([new URL(lab.served.url).host]);

    // Asked for: now the remote images load, and still no script runs.
    await page.locator('#remote-images').click();
    await expect.poll(() => beaconHits).toContain('/remote.png');
    await expect.poll(() => hosts.has('tracker.example')).toBe(true);
    expect(beaconHits).not.toContain('/script');
    expect(beaconHits).not.toContain('/form');
    await context.close();
  });
});
