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

 * The bundles come from lambda-bundles.ts, each invocation from lambda-invocation.ts.
 */
import type { AddressInfo } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { SEARCH_VARIABLE } from '../functions/adapters/aws/search-env.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../test/support/aws-clients.js';
import { type DovecotInfo, maildirMessageCount, startDovecot } from '../test/support/dovecot.js';
import { type AwsEmulatorInfo, startAwsEmulators } from '../test/support/emulators.js';
import { httpApiEvent, startSecretsManagerStub } from '../test/support/lambda-rehearsal.js';
import {
  type Assembly,
  type Bundle,
  contributors,
  resolve,
  synthesize,
  type Template,
} from './lambda-bundles.js';
import { type Invocation, invoke, SECRET_ARN } from './lambda-invocation.js';
import {
  atMost,
  below,
  fixed,
  isMain,
  progress,
  removeDirectory,
  removeUser,
  seedFresh,
  stats,
  table,
  verdict,
  workDirectory,
} from './lib.js';

const MAILBOX_ID = 'bench';
/** The puller's first event archives this many small messages: a typical scheduled run's work. */
const FIRST_EVENT_MESSAGES = 10;
const PULLER_TARGET_BYTES = 1.5 * 1024 * 1024;

export interface ColdStartResult {
  runs: number;
  synthSeconds: number;
  bundles: {
    name: string;
    bytes: number;
    gzipBytes: number;
    packageBytes: number;
    target: number | null;
  }[];
  /** The puller's bytes by package (metafile of an identical build). */
  pullerContributors: { total: number; top: [string, number][] };
  /** By variant label: [puller, api] invocations per run. */
  variants: {
    label: string;
    puller: Invocation[];
    api: Invocation[];
  }[];
}

/** What every round of the bench shares. */
interface Bench {
  dir: string;
  dovecot: DovecotInfo;
  aws: AwsEmulatorInfo;
  assembly: Assembly;
  scheduledEvent: unknown;
  messages: Buffer[];
  secret: { value: string };
  secretsEndpoint: string;
}

/** The schedule's own event, from its Input in the template: only the mailbox id. */
function scheduledEventOf(template: Template): unknown {
  const [schedule] = Object.values(template.Resources).filter(
    (r) => r.Type === 'AWS::Scheduler::Schedule',
  );
  if (!schedule) throw new Error('no schedule in the template');
  return JSON.parse(
    resolve((schedule.Properties?.Target as { Input?: unknown } | undefined)?.Input, (ref) => {
      throw new Error(`the schedule's event refers to ${ref}; it should carry only the mailbox id`);
    }),
  ) as unknown;
}

function firstEventMessages(): Buffer[] {
  return Array.from({ length: FIRST_EVENT_MESSAGES }, (_, i) =>
    Buffer.from(
      `From: Sender ${i} <s${i}@example.com>\nTo: archive@example.com\nSubject: first event ${i}\nMessage-ID: <first.${i}@bench>\nDate: Thu, 26 Nov 2026 10:00:00 +0000\n\n${'A line of text in a small message.\n'.repeat(60)}`,
    ),
  );
}

/** One puller event, then the API over what it archived, each in a fresh process. */
async function round(
  bench: Bench,
  variant: Variant,
  cpuProfileDir?: string,
): Promise<{ puller: Invocation; api: Invocation }> {
  const { dovecot, aws, assembly, messages } = bench;
  const user = seedFresh(dovecot, 'cold', messages);
  bench.secret.value = JSON.stringify({
    kind: 'password',
    username: user,
    password: dovecot.password,
  });
  const names = {
    bucket: await createTestBucket(s3ClientFor(aws)),
    table: await createTestTable(dynamoClientFor(aws)),
  };
  const call = (bundle: Bundle, events: unknown[]) =>
    invoke(
      bench.dir,
      bundle,
      events,
      names,
      aws,
      bench.secretsEndpoint,
      variant.sourceMaps,
      cpuProfileDir,
    );
  const puller = await call(variant.search ? assembly.puller : withoutSearch(assembly.puller), [
    bench.scheduledEvent,
  ]);
  const record = puller.values[0] as { outcome?: string; counts?: { stored?: number } };
  if (record?.outcome !== 'success' || record.counts?.stored !== messages.length) {
    throw new Error(`the puller's first event did not archive the mail: ${JSON.stringify(record)}`);
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
}

interface Variant {
  label: string;
  sourceMaps: boolean;
  /** false: the puller runs without POPVAULT_SEARCH, so no text is journalled and nothing flushed. */
  search: boolean;
}

const VARIANTS: Variant[] = [
  { label: "as deployed (the template's NODE_OPTIONS)", sourceMaps: true, search: true },
  { label: 'without --enable-source-maps', sourceMaps: false, search: true },
  { label: 'as deployed, search off (what search costs)', sourceMaps: true, search: false },
];

function withoutSearch(bundle: Bundle): Bundle {
  const { [SEARCH_VARIABLE]: _off, ...variables } = bundle.variables;
  return { ...bundle, variables };
}

async function bundleFacts(assembly: Assembly, runs: number): Promise<ColdStartResult> {
  return {
    runs,
    synthSeconds: assembly.synthSeconds,
    bundles: [
      {
        name: 'puller',
        bytes: assembly.puller.bytes,
        gzipBytes: assembly.puller.gzipBytes,
        packageBytes: assembly.puller.packageBytes,
        target: PULLER_TARGET_BYTES,
      },
      {
        name: 'query API',
        bytes: assembly.api.bytes,
        gzipBytes: assembly.api.gzipBytes,
        packageBytes: assembly.api.packageBytes,
        target: null,
      },
    ],
    variants: VARIANTS.map((v) => ({ label: v.label, puller: [], api: [] })),
    pullerContributors: contributors(
      (await import('../infra/constructs/puller-function.js')).PULLER_ENTRY,
    ),
  };
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
    const assembly = await synthesize(dir, dovecot, MAILBOX_ID);
    const bench: Bench = {
      dir,
      dovecot,
      aws,
      assembly,
      scheduledEvent: scheduledEventOf(assembly.template),
      messages: firstEventMessages(),
      secret,
      secretsEndpoint,
    };
    const result = await bundleFacts(assembly, runs);
    // Untimed: the emulators answer their first requests slowly (DynamoDB Local's JIT), and the
    // bundles are read from disk once; neither is what a cold start of the code costs.
    await round(bench, VARIANTS[0] as Variant);
    for (let run = 0; run < runs; run += 1) {
      const order = run % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const variant of order) {
        const { puller, api } = await round(bench, variant, options.cpuProfileDir);
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
    [
      'bundle (index.mjs from cdk.out)',
      'bytes (minified)',
      'MiB',
      'gzip bytes',
      'with the files shipped beside it, no source maps',
      'target',
    ],
    r.bundles.map((b) => [
      b.name,
      String(b.bytes),
      fixed(b.bytes / 1024 / 1024),
      String(b.gzipBytes),
      `${b.packageBytes} (${fixed(b.packageBytes / 1024 / 1024)} MiB)`,
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
