/**
 * The Lambda bundles exactly as `cdk synth` makes them (real esbuild bundling), for the cold-start
 * bench (cold-start.ts): the app synthesized with a config whose one mailbox is the bench's Dovecot,
 * the puller and query API bundles taken from the cloud assembly with their sizes, and where the
 * puller's bytes come from.
 *
 * Synth writes to a directory of its own (`--output`), not ./cdk.out, so a concurrent `npm test` or
 * `cdk synth` in the repository cannot swap the assets out from under the measurement.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';
import { SQLITE_WASM_MODULE } from '../infra/constructs/node-function.js';
import type { DovecotInfo } from '../test/support/dovecot.js';
import { describeFailure, REPO_ROOT, runTimed } from './lib.js';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}
export type Template = { Resources: Record<string, CfnResource> };

export interface Bundle {
  logicalId: string;
  entry: string;
  bytes: number;
  gzipBytes: number;
  /** Every file of the asset but source maps: index.mjs and what ships beside it (sqlite-wasm). */
  packageBytes: number;
  properties: Record<string, unknown>;
  variables: Record<string, unknown>;
}

export interface Assembly {
  template: Template;
  puller: Bundle;
  api: Bundle;
  synthSeconds: number;
}

/** Resolves the intrinsics the template uses in strings; anything unknown is an error. */
export function resolve(value: unknown, refs: (id: string) => string): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v?.Ref === 'string') return refs(v.Ref);
  if (Array.isArray(v?.['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolve(part, refs)).join(separator);
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

/** Synthesizes the app into `dir` with one mailbox, `mailboxId`, on the bench's Dovecot. */
export async function synthesize(
  dir: string,
  dovecot: DovecotInfo,
  mailboxId: string,
): Promise<Assembly> {
  const configFile = join(dir, 'popvault.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      mailboxes: [
        {
          id: mailboxId,
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
      packageBytes: filesBytes(join(outdir, asset.source.path)),
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

function filesBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && !entry.name.endsWith('.map')) {
      total += statSync(join(entry.parentPath, entry.name)).size;
    }
  }
  return total;
}

/**
 * Where a bundle's bytes come from: the same entry rebuilt with the stack's esbuild options
 * (infra/constructs/node-function.ts) and a metafile, bytes in the output summed by package.
 */
export function contributors(entry: string): { total: number; top: [string, number][] } {
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
    external: [SQLITE_WASM_MODULE],
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
