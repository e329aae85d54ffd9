/**
 * The CLI as one esbuild bundle (dist/cli/), so `popvault` starts in plain node instead of through
 * tsx's loader: measured here, tsx took 0.14 s to register and 0.24 s to compile and load the pull
 * command, on every run (BENCHMARKS.md section 1).
 *
 * The bundle is only a cache of the TypeScript sources. `npm ci` / `npm install` build it (the
 * `prepare` script); the launcher uses it only while it is fresh: every project file it was built
 * from unchanged since, and package-lock.json too. A stale or missing bundle falls back to tsx, so
 * an edited source always runs as edited. POPVAULT_CLI_FROM_SOURCE=1 always runs the sources.
 *
 *   node functions/cli/cli-bundle.mjs          builds dist/cli/ (needs esbuild, a devDependency)
 *   node functions/cli/cli-bundle.mjs --if-possible   the same, skipped quietly without esbuild
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = join(REPO_ROOT, 'dist', 'cli');
const ENTRY = join(REPO_ROOT, 'functions', 'cli', 'main.ts');
const LOCK_FILE = 'package-lock.json';

/**
 * The bundle's main module, or null when it is missing or older than anything it was built from, or
 * when POPVAULT_CLI_FROM_SOURCE=1 asks for the sources.
 */
export function freshBundle(outDir = OUT_DIR, root = REPO_ROOT, env = process.env) {
  if (env.POPVAULT_CLI_FROM_SOURCE === '1') return null;
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
  try {
    for (const file of manifest.inputs) {
      if (statSync(join(root, file)).mtimeMs > manifest.builtAtMs) return null;
    }
  } catch {
    // A source that is gone: the bundle no longer matches the tree.
    return null;
  }
  return pathToFileURL(join(outDir, manifest.main)).href;
}

export async function buildBundle(outDir = OUT_DIR) {
  const { build } = await import('esbuild');
  // Sources edited during the build are newer than this, so the bundle is never wrongly fresh.
  const builtAtMs = Date.now() - 1000;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: { main: ENTRY },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // Commands stay lazily loaded: each dynamic import becomes its own chunk.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // A native addon cannot be bundled; the Lambda bundles do not use it.
    external: ['better-sqlite3'],
    banner: {
      // CommonJS dependencies inside an ESM bundle still call require() for node built-ins.
      js: "import { createRequire as __popvaultRequire } from 'node:module'; const require = __popvaultRequire(import.meta.url);",
    },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'error',
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((input) => relative(REPO_ROOT, join(REPO_ROOT, input)))
    .filter((input) => !input.startsWith('node_modules/'));
  inputs.push(LOCK_FILE);
  writeFileSync(
    join(outDir, 'manifest.json'),
    JSON.stringify({ main: 'main.mjs', builtAtMs, inputs }, null, 2),
  );
  return inputs.length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const optional = process.argv.includes('--if-possible');
  try {
    statSync(join(REPO_ROOT, 'node_modules', 'esbuild'));
  } catch {
    if (optional) process.exit(0);
    console.error('cli-bundle: esbuild is not installed (it is a devDependency); run npm ci');
    process.exit(1);
  }
  const count = await buildBundle();
  console.log(`cli-bundle: dist/cli/ built from ${count} files`);
}
