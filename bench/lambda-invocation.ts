/**
 * One Lambda invocation of a bundle from `cdk synth`, for the cold-start bench (cold-start.ts): run in
 * a fresh node process the way the Lambda runtime does it (import the handler module, then call it),
 * with the template's environment plus what Lambda sets, timed inside the child with
 * performance.now(): process start to import, the import, and each event.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AwsEmulatorInfo } from '../test/support/emulators.js';
import { lambdaEnvironment } from '../test/support/lambda-rehearsal.js';
import { type Bundle, resolve } from './lambda-bundles.js';
import { describeFailure, runTimed } from './lib.js';

/** The secret the mailbox's settings name; the bench's Secrets Manager stub answers for it. */
export const SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:popvault-bench-AbCdEf';

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

export interface Invocation {
  wallMs: number;
  beforeImportMs: number;
  importMs: number;
  eventsMs: number[];
  values: unknown[];
}

/** Runs `events` through the bundle's handler in a fresh process. */
export async function invoke(
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
