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
 * SQLite's WebAssembly, which @sqlite.org/sqlite-wasm loads at run time from beside the JavaScript
 * that contains it (`new URL('sqlite3.wasm', import.meta.url)`). esbuild bundles the JavaScript
 * into index.mjs but knows nothing of that file, so it is copied next to index.mjs after bundling:
 * the same relative location, no loader option and no path in the environment. Every function
 * carries it (the puller builds search segments, the query API reads them); it is loaded only when
 * a search needs it (functions/adapters/aws/sqlite-wasm-driver.ts).
 */
export const SQLITE_WASM_FILE = createRequire(import.meta.url).resolve(
  '@sqlite.org/sqlite-wasm/sqlite3.wasm',
);

/** Quotes a path for the shell CDK runs bundling hooks in. */
function shellQuote(path: string): string {
  return `'${path.replaceAll("'", "'\\''")}'`;
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
        externalModules: [],
        forceDockerBundling: false,
        logLevel: nodejs.LogLevel.WARNING,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [
            `cp ${shellQuote(SQLITE_WASM_FILE)} ${shellQuote(`${outputDir}/sqlite3.wasm`)}`,
          ],
        },
      },
    });
  }
}
