/**
 * `popvault serve --api URL`: the viewer over a deployed archive. Its reads are forwarded to the
 * deployed API signed with SigV4; nothing is forwarded for a request the local guard refuses, and
 * nothing but reads is forwarded at all.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startRemoteViewer } from '../../functions/cli/commands/serve.js';

const credentials = { accessKeyId: 'AKIDPOPVAULTVIEWER', secretAccessKey: 'never-sent-secret' };
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A stand-in for the deployed API: records what reached it. */
async function deployedApi(): Promise<{
  url: string;
  seen: { url: string; headers: IncomingHttpHeaders; method: string }[];
}> {
  const seen: { url: string; headers: IncomingHttpHeaders; method: string }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers, method: req.method ?? '' });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end('{"items":[{"mailboxId":"work"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function viewerOver(apiUrl: string) {
  const viewer = await startRemoteViewer({ apiUrl, port: 0, region: 'eu-west-1', credentials });
  closers.push(viewer.stop);
  const code = /#login=(.+)$/.exec(viewer.loginUrl)?.[1] ?? '';
  const signIn = await fetch(`${viewer.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  expect(signIn.status).toBe(204);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { viewer, cookie };
}

describe('the viewer over a deployed API', () => {
  it('forwards a signed-in read with a SigV4 signature for execute-api, under the stage path', async () => {
    const api = await deployedApi();
    const { viewer, cookie } = await viewerOver(`${api.url}/prod`);
    const response = await fetch(`${viewer.url}/mailboxes?limit=5`, { headers: { cookie } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ items: [{ mailboxId: 'work' }] });
    expect(api.seen.map((r) => r.url)).toEqual(['/prod/mailboxes?limit=5']);
    const authorization = String(api.seen[0]?.headers.authorization);
    expect(authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDPOPVAULTVIEWER\/\d{8}\/eu-west-1\/execute-api\/aws4_request/,
    );
    expect(authorization).not.toContain(credentials.secretAccessKey);
    // The browser's cookie is the local server's business; it never reaches AWS.
    expect(api.seen[0]?.headers.cookie).toBeUndefined();
  });

  it('forwards nothing for a request without a session, or for anything but a read', async () => {
    const api = await deployedApi();
    const { viewer, cookie } = await viewerOver(api.url);
    expect((await fetch(`${viewer.url}/mailboxes`)).status).toBe(401);
    const post = await fetch(`${viewer.url}/mailboxes`, { method: 'POST', headers: { cookie } });
    expect(post.status).toBe(405);
    expect(api.seen).toEqual([]);
  });
});
