import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../../functions/cli/cli-error.js';
import { createSignedApiClient, regionOf } from '../../functions/cli/signed-api-client.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const credentials = {
  accessKeyId: 'AKIDPOPVAULTTEST',
  secretAccessKey: 'test-secret-key-never-sent',
};

describe('reading a deployed archive through its API with SigV4', () => {
  it('signs every request for execute-api in the API region, and drops the signature on the redirect to S3', async () => {
    const seenByS3: IncomingHttpHeaders[] = [];
    const s3 = await listen((req, res) => {
      seenByS3.push(req.headers);
      res.writeHead(200, { 'content-type': 'message/rfc822' }).end('Subject: hi\r\n\r\nbody\r\n');
    });
    const seenByApi: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
    const api = await listen((req, res) => {
      seenByApi.push({ url: req.url ?? '', headers: req.headers });
      if (req.url?.endsWith('/raw'))
        res.writeHead(302, { location: `${s3}/raw/abc?X-Amz-Signature=presigned` }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}');
    });
    const get = createSignedApiClient({ baseUrl: api, region: 'eu-west-1', credentials });
    expect((await get('/mailboxes/work/messages?limit=5')).status).toBe(200);
    const raw = await get('/messages/abc/raw');
    expect(await raw.text()).toBe('Subject: hi\r\n\r\nbody\r\n');

    const first = seenByApi[0];
    expect(first?.url).toBe('/mailboxes/work/messages?limit=5');
    expect(first?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDPOPVAULTTEST\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/,
    );
    expect(first?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    // Different requests carry different signatures: the path and query are signed.
    expect(seenByApi[1]?.headers.authorization).not.toBe(first?.headers.authorization);
    expect(seenByS3[0]?.authorization).toBeUndefined();
    expect(JSON.stringify(seenByApi)).not.toContain(credentials.secretAccessKey);
  });

  it('takes the region from an execute-api host name, and asks for one otherwise', () => {
    expect(
      regionOf(new URL('https://a1b2c3.execute-api.eu-central-1.amazonaws.com/'), undefined),
    ).toBe('eu-central-1');
    expect(regionOf(new URL('https://archive.example.com/'), 'us-west-2')).toBe('us-west-2');
    expect(() => regionOf(new URL('https://archive.example.com/'), undefined)).toThrow(CliError);
    expect(() => createSignedApiClient({ baseUrl: 'not a url', region: 'x', credentials })).toThrow(
      /--api must be/,
    );
  });

  it('popvault list --api prints what the deployed API returns, using the standard credential chain', async () => {
    let authorization = '';
    const api = await listen((req, res) => {
      authorization = req.headers.authorization ?? '';
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          '{"items":[{"mailboxId":"work","messages":3,"octets":900,"lastRun":null,"lastSuccessAt":null}]}',
        );
    });
    const child = spawn(
      process.execPath,
      [
        join(process.cwd(), 'functions/cli/popvault.mjs'),
        'list',
        '--api',
        api,
        '--region',
        'eu-west-1',
      ],
      {
        env: {
          ...process.env,
          NODE_NO_WARNINGS: '1',
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('work  3 messages  900 bytes');
    expect(authorization).toContain('Credential=AKIDPOPVAULTTEST/');
  });
});
