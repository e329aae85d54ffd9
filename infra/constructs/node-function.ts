import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, type Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAMBDA_NODE_OPTIONS } from './lambda-node-options.js';

/** The repository root: entries, package-lock.json and tsconfig.json are found from here. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Current Node LTS on Lambda; esbuild targets the same version. */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;
const ESBUILD_TARGET = 'node24';

/**
 * ESM output may have to host a CommonJS dependency that calls `require()` for a Node built-in;
 * esbuild's ESM shim throws on those unless a real `require` exists. None in today's bundles does
 * (mailparser's helpers did), but a dependency update could bring one back, and the shim is free.
 */
const REQUIRE_SHIM =
  "import { createRequire as __popvaultCreateRequire } from 'node:module'; const require = __popvaultCreateRequire(import.meta.url);";

/**
 * @sqlite.org/sqlite-wasm (search segments) is left out of the bundle and shipped beside it as
 * node_modules/@sqlite.org/sqlite-wasm with only what Node loads: its package.json (whose exports
 * pick dist/node.mjs), dist/node.mjs and dist/sqlite3.wasm. Two reasons:
 * - the module finds its .wasm beside its own file (`new URL('sqlite3.wasm', import.meta.url)`);
 *   inlined into index.mjs it would look beside index.mjs, a location esbuild knows nothing of;
 * - the code imports it dynamically, on a search or a flush only (sqlite-wasm-driver.ts): kept out
 *   of index.mjs, a cold start neither reads nor parses its 0.5 MB of JavaScript.
 */
export const SQLITE_WASM_MODULE = '@sqlite.org/sqlite-wasm';
const SQLITE_WASM_PACKAGE = dirname(
  createRequire(import.meta.url).resolve(`${SQLITE_WASM_MODULE}/package.json`),
);
export const SQLITE_WASM_FILES = ['package.json', 'dist/node.mjs', 'dist/sqlite3.wasm'] as const;

/** Quotes a path for the shell CDK runs bundling hooks in. */
function shellQuote(path: string): string {
  return `'${path.replaceAll("'", "'\\''")}'`;
}

/** Copies the sqlite-wasm files into the bundle's node_modules (see SQLITE_WASM_MODULE). */
function copySqliteWasm(outputDir: string): string[] {
  const target = `${outputDir}/node_modules/${SQLITE_WASM_MODULE}`;
  return [
    `mkdir -p ${shellQuote(`${target}/dist`)}`,
    ...SQLITE_WASM_FILES.map(
      (file) =>
        `cp ${shellQuote(`${SQLITE_WASM_PACKAGE}/${file}`)} ${shellQuote(`${target}/${file}`)}`,
    ),
  ];
}

export interface NodeFunctionProps {
  /** Path of the entry file relative to the repository root. */
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  logRetention: logs.RetentionDays;
  environment: Record<string, string>;
  ephemeralStorageSize?: Size;
  reservedConcurrentExecutions?: number;
  /** Async invocation settings; only the puller is invoked asynchronously. */
  async?: {
    maxEventAge: Duration;
    onFailure: lambda.IDestination;
  };
}

/**
 * A Lambda function bundled from TypeScript by the local esbuild (never Docker): arm64, Node 24, ESM,
 * minified with linked source maps (NODE_OPTIONS, see lambda-node-options.ts, enables them so traces
 * point at the TypeScript), the exact pinned AWS SDK bundled rather than the runtime's copy, its own
 * log group with a retention, and a role that starts with nothing but writing to that log group:
 * no AWSLambdaBasicExecutionRole (it allows creating and writing any log group).
 */
export class NodeFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    const entry = resolve(PROJECT_ROOT, props.entry);
    if (!existsSync(entry)) {
      // NodejsFunction would say "Cannot find entry file" from deep inside a construct tree.
      throw new Error(
        `${props.entry} does not exist, but the stack bundles it as the ${props.description} function`,
      );
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      // Operational logs expire anyway; they need not outlive the function.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `popvault: ${props.description}`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: resolve(PROJECT_ROOT, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      description: `popvault: ${props.description}`,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      environment: { NODE_OPTIONS: LAMBDA_NODE_OPTIONS, ...props.environment },
      ...(props.ephemeralStorageSize ? { ephemeralStorageSize: props.ephemeralStorageSize } : {}),
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      ...(props.async
        ? {
            // A failed run is not retried blindly: the next scheduled run starts afresh, and the
            // failure goes to the dead-letter queue for the alarm.
            retryAttempts: 0,
            maxEventAge: props.async.maxEventAge,
            onFailure: props.async.onFailure,
          }
        : {}),
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: ESBUILD_TARGET,
        mainFields: ['module', 'main'],
        banner: REQUIRE_SHIM,
        minify: true,
        sourceMap: true,
        // Linked (file plus sourceMappingURL comment): Node only finds maps through the comment.
        sourceMapMode: nodejs.SourceMapMode.DEFAULT,
        sourcesContent: false,
        bundleAwsSDK: true,
        externalModules: [SQLITE_WASM_MODULE],
        forceDockerBundling: false,
        logLevel: nodejs.LogLevel.WARNING,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => copySqliteWasm(outputDir),
        },
      },
    });
  }
}
