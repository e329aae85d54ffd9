/**
 * Deploy rehearsal: synthesize the app with real bundling, take the puller and query API code from
 * the cloud assembly (the exact files Lambda would run), and run them under Node with the
 * environment the template gives them, resource names mapped to the local emulators and Dovecot:
 * a scheduled event exactly as its schedule carries it through the mailbox's puller (and a forged
 * one, refused), then requests through the API handler. Catches bundling, ESM, env and wiring mistakes that unit tests cannot.
 *
 * How the AWS SDK inside the bundle reaches the emulators without any code change:
 * - AWS_ENDPOINT_URL_S3 / _DYNAMODB / _SECRETS_MANAGER: SDK v3's service-specific endpoint
 *   variables (measured: honoured by the pinned client versions).
 * - Path-style S3: the SDK has no environment switch for it (AWS_S3_FORCE_PATH_STYLE is ignored,
 *   measured), but its endpoint rules use path style by themselves for an IP-address endpoint, which
 *   is what s3rver listens on.
 * - Secrets Manager: no emulator exists here, so a small HTTP server in this test answers
 *   GetSecretValue in the service's JSON protocol and records which ids were asked for.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { METRIC_NAMESPACE, METRIC_SERVICE } from '../../infra/constructs/archive-alarms.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  listAllKeys,
  s3ClientFor,
} from '../support/aws-clients.js';
import { maildirMessageCount, seedMailbox, toWireForm, uniqueUser } from '../support/dovecot.js';
import {
  httpApiEvent,
  lambdaEnvironment,
  startSecretsManagerStub,
} from '../support/lambda-rehearsal.js';
import {
  type CfnResource,
  logicalId,
  propsOf,
  readJson,
  resolveValue,
  resourcesOf,
  type Synthesized,
  synth,
} from './synth.js';

const lab = inject('dovecot');
const aws = inject('aws');

const MAILBOX_ID = 'rehearsal';
const SECRET_ARN = `arn:aws:secretsmanager:${aws.region}:123456789012:secret:popvault-rehearsal-AbCdEf`;
const MESSAGES = [
  Buffer.from('From: Ann <ann@example.com>\nSubject: one\nMessage-ID: <one@rehearsal>\n\nfirst\n'),
  Buffer.from('From: Bob <bob@example.com>\nSubject: two\nMessage-ID: <two@rehearsal>\n\nsecond\n'),
  Buffer.from('From: Cy <cy@example.com>\nSubject: three\n\nthird, no Message-ID\n'),
];

/** Runs one Lambda invocation the way the Node runtime does: import the handler module, call it. */
const RUNNER = `
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
const [entry, eventFile, resultFile, timeoutMs] = process.argv.slice(2);
const started = Date.now();
let outcome;
try {
  const { handler } = await import(pathToFileURL(entry).href);
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:' + process.env.AWS_REGION + ':123456789012:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/' + process.env.AWS_LAMBDA_FUNCTION_NAME,
    logStreamName: 'rehearsal',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => started + Number(timeoutMs) - Date.now(),
  };
  outcome = { ok: true, value: await handler(JSON.parse(readFileSync(eventFile, 'utf8')), context) };
} catch (error) {
  outcome = { ok: false, error: { name: error?.name, message: error?.message, stack: error?.stack } };
}
writeFileSync(resultFile, JSON.stringify(outcome));
// Lambda freezes the process after the handler returns; here, kept-alive sockets would hold it open.
process.exit(0);
`;

interface Invocation<T> {
  outcome:
    | { ok: true; value: T }
    | { ok: false; error: { name: string; message: string; stack: string } };
  stdout: string;
  stderr: string;
}

interface LambdaUnderTest {
  logicalId: string;
  properties: Record<string, unknown>;
  entry: string;
  env: Record<string, string>;
}

let synthesized: Synthesized;
let work: string;
let secretsServer: Server;
let secretsEndpoint: string;
const secretRequests: string[] = [];
let user: string;
let bucket: string;
let table: string;

/** Answers GetSecretValue for the one ARN the template names, ResourceNotFound for anything else. */
/** The function's code directory in the cloud assembly, from the asset manifest, as CDK uploads it. */
function codeDirectory(fn: CfnResource): string {
  const key = (propsOf(fn).Code as { S3Key: string }).S3Key;
  const hash = key.replace(/\.zip$/, '');
  const manifest = readJson(
    join(synthesized.outdir, `${synthesized.stack.stackName}.assets.json`),
  ) as { files: Record<string, { source: { path: string; packaging: string } }> };
  const asset = manifest.files[hash];
  if (!asset) throw new Error(`asset ${hash} is not in the asset manifest`);
  expect(asset.source.packaging).toBe('zip');
  return join(synthesized.outdir, asset.source.path);
}

/** Lambda's Node runtime resolves "index.handler" to index.mjs, index.js or index.cjs. */
function handlerFile(directory: string, handler: string): string {
  const module = handler.slice(0, handler.lastIndexOf('.'));
  for (const ext of ['.mjs', '.js', '.cjs']) {
    const file = join(directory, `${module}${ext}`);
    if (existsSync(file)) return file;
  }
  throw new Error(`no ${module}.mjs/.js/.cjs in ${directory}`);
}

function lambdaUnderTest(descriptionPart: string): LambdaUnderTest {
  const [found] = resourcesOf(synthesized.json, 'AWS::Lambda::Function').filter(([, r]) =>
    String(r.Properties?.Description).includes(descriptionPart),
  );
  if (!found) throw new Error(`no function described as "${descriptionPart}"`);
  const [id, fn] = found;
  const properties = fn.Properties ?? {};
  const directory = codeDirectory(fn);
  const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
  // Every Ref in the template's environment must have a stand-in here: an unmapped one is a wiring
  // change this rehearsal has not caught up with.
  const refs = {
    [logicalId(synthesized.json, 'AWS::DynamoDB::GlobalTable', 'ArchiveTable')]: table,
    [mailBucketOf()]: bucket,
    [logicalId(synthesized.json, 'AWS::SecretsManager::Secret', 'MailboxSecrets')]: SECRET_ARN,
  };
  const env = Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, resolveValue(value, refs)]),
  );
  return {
    logicalId: id,
    properties,
    entry: handlerFile(directory, String(properties.Handler)),
    env,
  };
}

function mailBucketOf(): string {
  const [found] = resourcesOf(synthesized.json, 'AWS::S3::Bucket').filter(
    ([, r]) => r.Properties?.LoggingConfiguration !== undefined,
  );
  if (!found) throw new Error('no mail bucket');
  return found[0];
}

async function invoke<T>(fn: LambdaUnderTest, event: unknown): Promise<Invocation<T>> {
  const id = randomUUID();
  const eventFile = join(work, `${id}.event.json`);
  const resultFile = join(work, `${id}.result.json`);
  writeFileSync(eventFile, JSON.stringify(event));
  const runner = join(work, 'runner.mjs');
  if (!existsSync(runner)) writeFileSync(runner, RUNNER);
  const timeoutMs = Number(fn.properties.Timeout) * 1000;
  const env = lambdaEnvironment(
    {
      functionName: fn.logicalId,
      memorySize: fn.properties.MemorySize,
      runtime: fn.properties.Runtime,
      handler: fn.properties.Handler,
      taskRoot: join(fn.entry, '..'),
    },
    aws,
    secretsEndpoint,
    fn.env,
  );
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>(
    (resolve, reject) => {
      execFile(
        process.execPath,
        [runner, fn.entry, eventFile, resultFile, String(timeoutMs)],
        { env, cwd: join(fn.entry, '..'), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
        (error, out, err) => {
          if (error) reject(new Error(`${error.message}\n${err}`));
          else resolve({ stdout: out, stderr: err });
        },
      );
    },
  );
  const outcome = JSON.parse(readFileSync(resultFile, 'utf8')) as Invocation<T>['outcome'];
  return { outcome, stdout, stderr };
}

function value<T>(invocation: Invocation<T>): T {
  if (!invocation.outcome.ok) {
    throw new Error(
      `handler failed: ${invocation.outcome.error.stack}\n--- stdout\n${invocation.stdout}\n--- stderr\n${invocation.stderr}`,
    );
  }
  return invocation.outcome.value;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'popvault-rehearsal-'));
  user = uniqueUser('rehearsal');
  seedMailbox(lab, user, MESSAGES);
  [bucket, table] = await Promise.all([
    createTestBucket(s3ClientFor(aws)),
    createTestTable(dynamoClientFor(aws)),
  ]);
  const secrets: Record<string, string> = {
    [SECRET_ARN]: JSON.stringify({ kind: 'password', username: user, password: lab.password }),
  };
  secretsServer = await startSecretsManagerStub(
    (id) => secrets[id],
    (id) => secretRequests.push(id),
  );
  secretsEndpoint = `http://127.0.0.1:${(secretsServer.address() as AddressInfo).port}`;
  synthesized = synth(
    {
      mailboxes: [
        {
          id: MAILBOX_ID,
          host: lab.host,
          port: lab.tlsPort,
          tls: 'implicit',
          caPem: lab.caPem,
          username: user,
          schedule: 'rate(5 minutes)',
          policy: 'delete',
        },
      ],
    },
    { bundle: true },
  );
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => secretsServer?.close(resolve));
  for (const dir of [work, synthesized?.outdir]) {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

interface RunRecordLike {
  outcome: string;
  counts: { stored: number; deleted: number; remainingOnServer: number };
}

interface ApiResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

describe('deploy rehearsal: the bundled code from cdk.out, wired as the template wires it', () => {
  it('bundles are minified ESM with source maps, and import no better-sqlite3', () => {
    for (const part of ['pulls one mailbox', 'query API']) {
      const fn = lambdaUnderTest(part);
      expect(fn.entry).toMatch(/index\.mjs$/);
      expect(existsSync(`${fn.entry}.map`)).toBe(true);
      const code = readFileSync(fn.entry, 'utf8');
      // Minified: a few very long lines (template literals keep their own line breaks).
      expect(code.length / code.split('\n').length).toBeGreaterThan(2000);
      expect(code.startsWith('import { createRequire')).toBe(true);
      // Booleans, so a failure does not print 1.7 MB of bundle.
      expect(code.includes('better-sqlite3')).toBe(false);
      // Without the link comment, --enable-source-maps finds no map.
      expect(code.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map')).toBe(true);
      // sqlite-wasm is not inlined (a cold start does not parse it) but shipped beside the bundle,
      // loaded on a search or a flush only, with the .wasm file it looks for beside itself.
      expect(code.includes('sqlite3InitModule')).toBe(false);
      const shipped = join(fn.entry, '..', 'node_modules', '@sqlite.org', 'sqlite-wasm');
      for (const file of ['package.json', 'dist/node.mjs', 'dist/sqlite3.wasm']) {
        expect(existsSync(join(shipped, file)), file).toBe(true);
      }
    }
  });

  it('the schedule’s event runs through the bundled puller: mail archived, deleted, metrics as the alarms expect', async () => {
    const puller = lambdaUnderTest('pulls one mailbox');
    const [[, schedule]] = resourcesOf(synthesized.json, 'AWS::Scheduler::Schedule') as [
      [string, CfnResource],
    ];
    const target = schedule.Properties?.Target as { Arn: unknown; Input: unknown };
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [puller.logicalId, 'Arn'] });
    const event = JSON.parse(resolveValue(target.Input, {}));
    expect(event).toEqual({ mailboxId: MAILBOX_ID });

    const run = await invoke<RunRecordLike>(puller, event);
    expect(value(run)).toMatchObject({
      outcome: 'success',
      counts: { stored: MESSAGES.length, deleted: MESSAGES.length, remainingOnServer: 0 },
    });
    expect(maildirMessageCount(lab, user)).toBe(0);
    const keys = await listAllKeys(s3ClientFor(aws), bucket);
    expect(keys.filter((k) => k.startsWith('raw/'))).toHaveLength(MESSAGES.length);
    // The run ended with the search flush: one segment (built by the sqlite-wasm shipped beside the
    // bundle, which found its .wasm file), the manifest naming it, nothing left pending, and the
    // backfill's state (nothing archived before search: done at once).
    expect(
      keys
        .filter((k) => !k.startsWith('raw/'))
        .map((k) => k.split('/').slice(0, 2).join('/'))
        .sort(),
    ).toEqual(['search/backfill', 'search/manifest', 'search/segments']);
    expect(secretRequests).toEqual([SECRET_ARN]);
    expect(run.stdout + run.stderr).not.toContain(lab.password);

    // Powertools prints metrics as EMF lines; each alarm on this mailbox must watch one of them.
    const emf = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    const [published] = emf as [Record<string, unknown>];
    const directive = (
      published._aws as {
        CloudWatchMetrics: {
          Namespace: string;
          Dimensions: string[][];
          Metrics: { Name: string }[];
        }[];
      }
    ).CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe(METRIC_NAMESPACE);
    expect(directive?.Dimensions.map((d) => [...d].sort())).toEqual([['mailbox', 'service']]);
    expect(published).toMatchObject({
      service: METRIC_SERVICE,
      mailbox: MAILBOX_ID,
      SuccessfulRuns: 1,
    });
    const emitted = new Set(directive?.Metrics.map((m) => m.Name));
    // Emitted only when they happen: a credential failure, a run told to retry later, a run whose
    // LIST sizes disagreed with the mail served, a search flush that failed.
    const conditional = new Set([
      'CredentialFailures',
      'RunsRetryLater',
      'SizesSuspectRuns',
      'SearchFlushFailures',
    ]);
    expect(emitted.has('ListSizeMismatches')).toBe(true);
    for (const [id, alarm] of resourcesOf(synthesized.json, 'AWS::CloudWatch::Alarm')) {
      const properties = alarm.Properties ?? {};
      const metrics = [
        properties,
        ...((properties.Metrics ?? []) as { MetricStat?: { Metric: Record<string, unknown> } }[])
          .map((m) => m.MetricStat?.Metric)
          .filter((m) => m !== undefined),
      ].filter((m) => m.Namespace === METRIC_NAMESPACE);
      for (const metric of metrics) {
        expect(metric.Dimensions, id).toEqual([
          { Name: 'mailbox', Value: MAILBOX_ID },
          { Name: 'service', Value: METRIC_SERVICE },
        ]);
        const name = String(metric.MetricName);
        expect(emitted.has(name) || conditional.has(name), `${id} watches ${name}`).toBe(true);
      }
    }
  });

  it('threat: a forged event (another server, CA and secret under this mailbox’s id) is refused by the bundled puller before any secret is read', async () => {
    const puller = lambdaUnderTest('pulls one mailbox');
    const before = secretRequests.length;
    const forged = {
      mailboxId: MAILBOX_ID,
      host: '127.0.0.1',
      port: 1,
      tls: 'implicit',
      caPem: '-----BEGIN CERTIFICATE-----\nforged\n-----END CERTIFICATE-----',
      secretId: `arn:aws:secretsmanager:${aws.region}:123456789012:secret:popvault-work-AbCdEf`,
    };
    for (const event of [forged, { mailboxId: 'work' }]) {
      const run = await invoke<RunRecordLike>(puller, event);
      expect(run.outcome.ok).toBe(false);
      if (run.outcome.ok) continue;
      expect(run.outcome.error.name).toBe('ScheduledEventError');
      expect(run.outcome.error.message).toContain(`{"mailboxId":"${MAILBOX_ID}"}`);
      const emf = run.stdout
        .split('\n')
        .filter((line) => line.includes('"_aws"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(emf).toMatchObject([
        { mailbox: MAILBOX_ID, service: METRIC_SERVICE, RejectedEvents: 1 },
      ]);
    }
    expect(secretRequests.length).toBe(before);
  });

  it('a search through the bundled API handler opens the segment the bundled puller wrote', async () => {
    const api = lambdaUnderTest('query API');
    const event = httpApiEvent('/search');
    event.rawQueryString = `q=second&mailbox=${MAILBOX_ID}`;
    const result = value(await invoke<ApiResult>(api, event));
    expect(result.statusCode, result.body).toBe(200);
    const body = JSON.parse(result.body) as { items: { subject: string }[]; nextCursor: unknown };
    expect(body.items.map((i) => i.subject)).toEqual(['two']);
    expect(body.nextCursor).toBeNull();
  });

  it('a request through the bundled API handler lists the archive and links the raw mail', async () => {
    const api = lambdaUnderTest('query API');
    const list = value(
      await invoke<ApiResult>(api, httpApiEvent(`/mailboxes/${MAILBOX_ID}/messages`)),
    );
    expect(list.statusCode).toBe(200);
    const items = (JSON.parse(list.body) as { items: { id: string; subject: string }[] }).items;
    expect(items.map((i) => i.subject).sort()).toEqual(['one', 'three', 'two']);

    const one = items.find((i) => i.subject === 'one');
    const raw = value(await invoke<ApiResult>(api, httpApiEvent(`/messages/${one?.id}/raw`)));
    expect(raw.statusCode).toBe(302);
    const location = new URL(raw.headers?.location ?? raw.headers?.Location ?? '');
    // Signed with the function's credentials, for the bucket the template named, path-style.
    expect(`${location.protocol}//${location.host}`).toBe(aws.s3Endpoint);
    expect(location.pathname.startsWith(`/${bucket}/`)).toBe(true);
    expect(location.searchParams.get('X-Amz-Credential')).toContain(aws.accessKeyId);
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(toWireForm(MESSAGES[0] as Buffer));
  });
});
