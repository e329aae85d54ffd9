/**
 * Section 4: cold start of the Lambda code exactly as `cdk synth` bundles it. Synthesizes the app
 * (real esbuild bundling) with a config whose one mailbox is the bench's Dovecot, takes the puller
 * and query API bundles from the cloud assembly, reports their sizes, and runs each in a fresh node
 * process the way the Lambda runtime does: import the handler module, then call it. Timed inside the
 * child with performance.now(): process start to import, the import, and each event.
 *
 * The events are real work, not a request that fails validation early:
 * - puller: the schedule's own event (its Input from the template: only the mailbox id; the
 *   mailbox's settings are in the function's environment) against Dovecot and the S3 and DynamoDB
 *   emulators, credentials from a tiny local Secrets Manager, as the deploy rehearsal does
 *   (test/infra/deploy-rehearsal.test.ts);
 * - API: API Gateway HTTP API v2 events, GET /openapi.json (no AWS call) twice, then a listing of the
 *   mailbox the puller just filled (a DynamoDB Local query).
 *
 * The environment is the template's (NODE_OPTIONS included, see lambda-node-options.ts) plus what Lambda
 * sets; a second variant drops --enable-source-maps to show what the source maps cost.
 *
 * Synth writes to a directory of its own (`--output`), not ./cdk.out, so a concurrent `npm test` or
 * `cdk synth` in the repository cannot swap the assets out from under the measurement.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../test/support/aws-clients.js';
import { type DovecotInfo, maildirMessageCount, startDovecot } from '../test/support/dovecot.js';
import { type AwsEmulatorInfo, startAwsEmulators } from '../test/support/emulators.js';
import {
  httpApiEvent,
  lambdaEnvironment,
  startSecretsManagerStub,
} from '../test/support/lambda-rehearsal.js';
import {
  atMost,
  below,
  describeFailure,
  fixed,
  isMain,
  progress,
  REPO_ROOT,
  removeDirectory,
  removeUser,
  runTimed,
  seedFresh,
  stats,
  table,
  verdict,
  workDirectory,
} from './lib.js';

const MAILBOX_ID = 'bench';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:popvault-bench-AbCdEf';
/** The puller's first event archives this many small messages: a typical scheduled run's work. */
const FIRST_EVENT_MESSAGES = 10;
const PULLER_TARGET_BYTES = 1.5 * 1024 * 1024;

/**
 * One Lambda invocation as the Node runtime performs it. performance.now() counts from the start of
 * the process, so the first reading is what node took to get to user code.
 */
const RUNNER = `
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
const beforeImport = performance.now();
const [entry, eventsFile, resultFile, timeoutMs] = process.argv.slice(2);
const events = JSON.parse(readFileSync(eventsFile, 'utf8'));
const result = { beforeImportMs: beforeImport, importMs: 0, events: [] };
try {
  const started = performance.now();
  const { handler } = await import(pathToFileURL(entry).href);
  result.importMs = performance.now() - started;
  for (const event of events) {
    const invoked = Date.now();
    const context = {
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:' + process.env.AWS_REGION + ':123456789012:function:bench',
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: randomUUID(),
      logGroupName: '/aws/lambda/bench',
      logStreamName: 'bench',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => invoked + Number(timeoutMs) - Date.now(),
    };
    const t = performance.now();
    const value = await handler(event, context);
    result.events.push({ ms: performance.now() - t, value });
  }
  result.ok = true;
} catch (error) {
  result.ok = false;
  result.error = String(error?.stack ?? error);
}
writeFileSync(resultFile, JSON.stringify(result));
// Lambda freezes the process after the handler returns; here, kept-alive sockets would hold it open.
process.exit(0);
`;

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}
type Template = { Resources: Record<string, CfnResource> };

interface Bundle {
  logicalId: string;
  entry: string;
  bytes: number;
  gzipBytes: number;
  properties: Record<string, unknown>;
  variables: Record<string, unknown>;
}

interface Assembly {
  template: Template;
  puller: Bundle;
  api: Bundle;
  synthSeconds: number;
}

/** Resolves the intrinsics the template uses in strings; anything unknown is an error. */
function resolve(value: unknown, refs: (id: string) => string): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v?.Ref === 'string') return refs(v.Ref);
  if (Array.isArray(v?.['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolve(part, refs)).join(separator);
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

async function synthesize(dir: string, dovecot: DovecotInfo): Promise<Assembly> {
  const configFile = join(dir, 'popvault.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      mailboxes: [
        {
          id: MAILBOX_ID,
          host: dovecot.host,
          port: dovecot.tlsPort,
          tls: 'implicit',
          caPem: dovecot.caPem,
          username: 'set-by-the-secret',
          schedule: 'rate(5 minutes)',
          policy: 'delete',
        },
      ],
    }),
  );
  const outdir = join(dir, 'cdk.out');
  const synth = await runTimed(
    'npx',
    ['cdk', 'synth', '--quiet', '--no-notices', '-c', `config=${configFile}`, '--output', outdir],
    { cwd: REPO_ROOT, env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' } },
  );
  if (synth.code !== 0) throw describeFailure('cdk synth', synth);
  const templateFile = readdirSync(outdir).find((f) => f.endsWith('.template.json'));
  const assetsFile = readdirSync(outdir).find((f) => f.endsWith('.assets.json'));
  if (!templateFile || !assetsFile) throw new Error(`no template or asset manifest in ${outdir}`);
  const template = JSON.parse(readFileSync(join(outdir, templateFile), 'utf8')) as Template;
  const assets = JSON.parse(readFileSync(join(outdir, assetsFile), 'utf8')) as {
    files: Record<string, { source: { path: string } }>;
  };
  const functions = Object.entries(template.Resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function',
  );
  const bundleOf = ([logicalId, fn]: [string, CfnResource]): Bundle => {
    const properties = fn.Properties ?? {};
    const hash = String((properties.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '');
    const asset = assets.files[hash];
    if (!asset) throw new Error(`asset ${hash} of ${logicalId} is not in ${assetsFile}`);
    const handler = String(properties.Handler);
    const entry = join(
      outdir,
      asset.source.path,
      `${handler.slice(0, handler.lastIndexOf('.'))}.mjs`,
    );
    return {
      logicalId,
      entry,
      bytes: statSync(entry).size,
      gzipBytes: gzipSync(readFileSync(entry)).length,
      properties,
      variables: (properties.Environment as { Variables: Record<string, unknown> }).Variables,
    };
  };
  // The puller is the function with a spool directory; the API reads the same bucket and table.
  const puller = functions.find(([, r]) =>
    JSON.stringify(r.Properties).includes('POPVAULT_SPOOL_DIR'),
  );
  const api = functions.find(
    ([, r]) =>
      !JSON.stringify(r.Properties).includes('POPVAULT_SPOOL_DIR') &&
      JSON.stringify(r.Properties).includes('POPVAULT_TABLE'),
  );
  if (!puller || !api) throw new Error('no puller or query API function in the template');
  return { template, puller: bundleOf(puller), api: bundleOf(api), synthSeconds: synth.seconds };
}

/**
 * Where a bundle's bytes come from: the same entry rebuilt with the stack's esbuild options
 * (infra/constructs/node-function.ts) and a metafile, bytes in the output summed by package.
 */
function contributors(entry: string): { total: number; top: [string, number][] } {
  const result = buildSync({
    entryPoints: [join(REPO_ROOT, entry)],
    bundle: true,
    write: false,
    outfile: 'index.mjs',
    metafile: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    mainFields: ['module', 'main'],
    logLevel: 'error',
  });
  const byPackage = new Map<string, number>();
  let total = 0;
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const parts = path.split('node_modules/').pop()?.split('/') ?? [path];
      const name = path.includes('node_modules/')
        ? parts[0]?.startsWith('@')
          ? `${parts[0]}/${parts[1]}`
          : (parts[0] ?? path)
        : `(popvault) ${path.split('/').slice(0, 2).join('/')}`;
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
      total += bytesInOutput;
    }
  }
  return { total, top: [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12) };
}

/** Answers GetSecretValue for the one ARN the schedule names, with the current run's user. */
interface Invocation {
  wallMs: number;
  beforeImportMs: number;
  importMs: number;
  eventsMs: number[];
  values: unknown[];
}

async function invoke(
  dir: string,
  bundle: Bundle,
  events: unknown[],
  names: { bucket: string; table: string },
  aws: AwsEmulatorInfo,
  secretsEndpoint: string,
  sourceMaps: boolean,
  cpuProfileDir: string | undefined,
): Promise<Invocation> {
  const id = randomUUID();
  const eventsFile = join(dir, `${id}.events.json`);
  const resultFile = join(dir, `${id}.result.json`);
  writeFileSync(eventsFile, JSON.stringify(events));
  const runner = join(dir, 'runner.mjs');
  writeFileSync(runner, RUNNER);
  const variables = Object.fromEntries(
    Object.entries(bundle.variables).map(([name, value]) => [
      name,
      resolve(value, (ref) => {
        if (name === 'POPVAULT_BUCKET') return names.bucket;
        if (name === 'POPVAULT_TABLE') return names.table;
        // The mailbox's settings, fixed at synth, name its secret by the secret's Ref.
        if (name === 'POPVAULT_MAILBOX' && ref.startsWith('MailboxSecrets')) return SECRET_ARN;
        throw new Error(`no stand-in for ${name} (Ref ${ref})`);
      }),
    ]),
  );
  if (!sourceMaps) {
    variables.NODE_OPTIONS = (variables.NODE_OPTIONS ?? '')
      .replace('--enable-source-maps', '')
      .trim();
  }

  const env = lambdaEnvironment(
    {
      functionName: bundle.logicalId,
      memorySize: bundle.properties.MemorySize,
      runtime: bundle.properties.Runtime,
      handler: bundle.properties.Handler,
      taskRoot: join(bundle.entry, '..'),
    },
    aws,
    secretsEndpoint,
    variables,
  );
  const timeoutMs = Number(bundle.properties.Timeout) * 1000;
  const child = await runTimed(
    process.execPath,
    [
      // Not in NODE_OPTIONS, which refuses --cpu-prof.
      ...(cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`]),
      runner,
      bundle.entry,
      eventsFile,
      resultFile,
      String(timeoutMs),
    ],
    { cwd: join(bundle.entry, '..'), env },
  );
  if (child.code !== 0) throw describeFailure(`${bundle.logicalId} runner`, child);
  const result = JSON.parse(readFileSync(resultFile, 'utf8')) as {
    ok: boolean;
    error?: string;
    beforeImportMs: number;
    importMs: number;
    events: { ms: number; value: unknown }[];
  };
  if (!result.ok) {
    throw new Error(
      `${bundle.logicalId} failed: ${result.error}\n${child.stdout}\n${child.stderr}`,
    );
  }
  return {
    wallMs: child.seconds * 1000,
    beforeImportMs: result.beforeImportMs,
    importMs: result.importMs,
    eventsMs: result.events.map((e) => e.ms),
    values: result.events.map((e) => e.value),
  };
}

export interface ColdStartResult {
  runs: number;
  synthSeconds: number;
  bundles: { name: string; bytes: number; gzipBytes: number; target: number | null }[];
  /** The puller's bytes by package (metafile of an identical build). */
  pullerContributors: { total: number; top: [string, number][] };
  /** By variant label: [puller, api] invocations per run. */
  variants: {
    label: string;
    puller: Invocation[];
    api: Invocation[];
  }[];
}

export async function coldStartBench(options: {
  dovecot: DovecotInfo;
  aws: AwsEmulatorInfo;
  runs: number;
  /** Profiles every timed invocation (node --cpu-prof) into this directory: slower, for diagnosis. */
  cpuProfileDir?: string;
}): Promise<ColdStartResult> {
  const { dovecot, aws, runs } = options;
  const dir = workDirectory('cold-start');
  const secret = { value: '' };
  const secrets = await startSecretsManagerStub((id) =>
    id === SECRET_ARN ? secret.value : undefined,
  );
  const secretsEndpoint = `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`;
  try {
    progress('cold start: cdk synth (bundling)');
    const assembly = await synthesize(dir, dovecot);
    const [schedule] = Object.values(assembly.template.Resources).filter(
      (r) => r.Type === 'AWS::Scheduler::Schedule',
    );
    if (!schedule) throw new Error('no schedule in the template');
    const scheduledEvent = JSON.parse(
      resolve((schedule.Properties?.Target as { Input?: unknown } | undefined)?.Input, (ref) => {
        throw new Error(
          `the schedule's event refers to ${ref}; it should carry only the mailbox id`,
        );
      }),
    ) as unknown;
    const messages = Array.from({ length: FIRST_EVENT_MESSAGES }, (_, i) =>
      Buffer.from(
        `From: Sender ${i} <s${i}@example.com>\nTo: archive@example.com\nSubject: first event ${i}\nMessage-ID: <first.${i}@bench>\nDate: Thu, 26 Nov 2026 10:00:00 +0000\n\n${'A line of text in a small message.\n'.repeat(60)}`,
      ),
    );
    const variants = [
      { label: "as deployed (the template's NODE_OPTIONS)", sourceMaps: true },
      { label: 'without --enable-source-maps', sourceMaps: false },
    ];
    const result: ColdStartResult = {
      runs,
      synthSeconds: assembly.synthSeconds,
      bundles: [
        {
          name: 'puller',
          bytes: assembly.puller.bytes,
          gzipBytes: assembly.puller.gzipBytes,
          target: PULLER_TARGET_BYTES,
        },
        {
          name: 'query API',
          bytes: assembly.api.bytes,
          gzipBytes: assembly.api.gzipBytes,
          target: null,
        },
      ],
      variants: variants.map((v) => ({ label: v.label, puller: [], api: [] })),
      pullerContributors: contributors(
        (await import('../infra/constructs/puller-function.js')).PULLER_ENTRY,
      ),
    };
    /** One puller event, then the API over what it archived, each in a fresh process. */
    const round = async (
      sourceMaps: boolean,
      cpuProfileDir?: string,
    ): Promise<{ puller: Invocation; api: Invocation }> => {
      const user = seedFresh(dovecot, 'cold', messages);
      secret.value = JSON.stringify({
        kind: 'password',
        username: user,
        password: dovecot.password,
      });
      const names = {
        bucket: await createTestBucket(s3ClientFor(aws)),
        table: await createTestTable(dynamoClientFor(aws)),
      };
      const call = (bundle: Bundle, events: unknown[]) =>
        invoke(dir, bundle, events, names, aws, secretsEndpoint, sourceMaps, cpuProfileDir);
      const puller = await call(assembly.puller, [scheduledEvent]);
      const record = puller.values[0] as { outcome?: string; counts?: { stored?: number } };
      if (record?.outcome !== 'success' || record.counts?.stored !== messages.length) {
        throw new Error(
          `the puller's first event did not archive the mail: ${JSON.stringify(record)}`,
        );
      }
      if (maildirMessageCount(dovecot, user) !== 0) throw new Error('mail left on the server');
      removeUser(dovecot, user);
      const api = await call(assembly.api, [
        httpApiEvent('/openapi.json'),
        httpApiEvent('/openapi.json'),
        httpApiEvent(`/mailboxes/${MAILBOX_ID}/messages`),
      ]);
      const [spec, , list] = api.values as { statusCode: number; body: string }[];
      if (spec?.statusCode !== 200 || list?.statusCode !== 200) {
        throw new Error(`the API did not answer 200: ${JSON.stringify(api.values).slice(0, 500)}`);
      }
      const listed = (JSON.parse(list.body) as { items: unknown[] }).items.length;
      if (listed !== messages.length) throw new Error(`the API listed ${listed} messages`);
      return { puller, api };
    };
    // Untimed: the emulators answer their first requests slowly (DynamoDB Local's JIT), and the
    // bundles are read from disk once; neither is what a cold start of the code costs.
    await round(true);
    for (let run = 0; run < runs; run += 1) {
      const order = run % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) {
        const { puller, api } = await round(variant.sourceMaps, options.cpuProfileDir);
        const entry = result.variants.find((v) => v.label === variant.label);
        entry?.puller.push(puller);
        entry?.api.push(api);
        progress(
          `cold start run ${run + 1}/${runs} (${variant.label}): puller import ${puller.importMs.toFixed(0)} ms + event ${puller.eventsMs[0]?.toFixed(0)} ms; API import ${api.importMs.toFixed(0)} ms + event ${api.eventsMs[0]?.toFixed(0)} ms`,
        );
      }
    }
    return result;
  } finally {
    await new Promise((ok) => secrets.close(ok));
    removeDirectory(dir);
  }
}

export function renderColdStart(r: ColdStartResult): string {
  const sizes = table(
    ['bundle (index.mjs from cdk.out)', 'bytes (minified)', 'MiB', 'gzip bytes', 'target'],
    r.bundles.map((b) => [
      b.name,
      String(b.bytes),
      fixed(b.bytes / 1024 / 1024),
      String(b.gzipBytes),
      b.target === null ? '-' : verdict(atMost(1.5, ' MiB'), b.bytes / 1024 / 1024),
    ]),
  );
  const contributorsTable = table(
    ['puller bundle: largest parts (esbuild metafile, same options)', 'bytes', 'share'],
    r.pullerContributors.top.map(([name, bytes]) => [
      name,
      String(bytes),
      `${((bytes / r.pullerContributors.total) * 100).toFixed(1)}%`,
    ]),
  );
  const ms = (values: number[]) => {
    const s = stats(values);
    return `${s.median.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})`;
  };
  const rows: string[][] = [];
  for (const v of r.variants) {
    const pullerFirst = v.puller.map((i) => i.eventsMs[0] as number);
    rows.push([
      `puller, ${v.label}`,
      ms(v.puller.map((i) => i.beforeImportMs)),
      ms(v.puller.map((i) => i.importMs)),
      `${ms(pullerFirst)}: scheduled event, ${FIRST_EVENT_MESSAGES} messages archived`,
      ms(v.puller.map((i) => i.wallMs)),
      verdict(below(300, ' ms'), stats(pullerFirst).median),
    ]);
    const apiFirst = v.api.map((i) => i.eventsMs[0] as number);
    rows.push([
      `query API, ${v.label}`,
      ms(v.api.map((i) => i.beforeImportMs)),
      ms(v.api.map((i) => i.importMs)),
      `${ms(apiFirst)}: GET /openapi.json; then again ${ms(v.api.map((i) => i.eventsMs[1] as number))}; then GET /mailboxes/${MAILBOX_ID}/messages (DynamoDB Local) ${ms(v.api.map((i) => i.eventsMs[2] as number))}`,
      ms(v.api.map((i) => i.wallMs)),
      '-',
    ]);
  }
  return [
    `### 4. Cold start of the bundles from \`cdk synth\` (${r.runs} runs; synth with bundling took ${fixed(r.synthSeconds, 1)} s)`,
    '',
    sizes,
    '',
    contributorsTable,
    '',
    'Milliseconds, median (min-max), measured inside a fresh `node` process:',
    '',
    table(
      [
        'bundle',
        'node start to user code',
        'import of the bundle',
        'first event(s) after import',
        'process wall (spawn to exit)',
        'target: first event < 300 ms',
      ],
      rows,
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      'cpu-prof-dir': { type: 'string' },
    },
  });
  const dovecot = await startDovecot({ lockSession: false });
  const emulators = await startAwsEmulators();
  try {
    const runs = Number(values.runs);
    const profiles = values['cpu-prof-dir'];
    const result = await coldStartBench({
      dovecot: dovecot.info,
      aws: emulators.info,
      runs,
      ...(profiles ? { cpuProfileDir: resolvePath(profiles) } : {}),
    });
    console.log(renderColdStart(result));
  } finally {
    await emulators.stop();
    await dovecot.stop();
  }
}
