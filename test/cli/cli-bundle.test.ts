/**
 * The prebuilt CLI bundle is a cache of the sources: the threat is running stale code after an edit
 * (or a missing or broken bundle stopping the command), so the launcher must use it only when every
 * file it was built from is unchanged, and the bundle must behave as the sources do.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildBundle, freshBundle } from '../../functions/cli/cli-bundle.mjs';

const run = promisify(execFile);
const fresh = freshBundle;

function fakeTree(builtAtMs: number, inputs: string[]): { root: string; outDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'popvault-bundle-'));
  const outDir = join(root, 'dist', 'cli');
  mkdirSync(outDir, { recursive: true });
  for (const input of inputs) {
    mkdirSync(join(root, input, '..'), { recursive: true });
    writeFileSync(join(root, input), 'x');
    const seconds = (builtAtMs - 60_000) / 1000;
    utimesSync(join(root, input), seconds, seconds);
  }
  writeFileSync(
    join(outDir, 'manifest.json'),
    JSON.stringify({ main: 'main.mjs', builtAtMs, inputs }),
  );
  return { root, outDir };
}

describe('CLI bundle: used only while fresh', () => {
  const inputs = ['functions/cli/main.ts', 'package-lock.json'];

  it('is used when every input is older than the build', () => {
    const { root, outDir } = fakeTree(Date.now(), inputs);
    expect(fresh(outDir, root, {})).toBe(`file://${join(outDir, 'main.mjs')}`);
  });

  it('is skipped after a source is edited', () => {
    const { root, outDir } = fakeTree(Date.now() - 120_000, inputs);
    writeFileSync(join(root, 'functions/cli/main.ts'), 'edited');
    expect(fresh(outDir, root, {})).toBeNull();
  });

  it('is skipped when a source it was built from is gone', () => {
    const { root, outDir } = fakeTree(Date.now(), inputs);
    rmSync(join(root, 'functions/cli/main.ts'));
    expect(fresh(outDir, root, {})).toBeNull();
  });

  it('is skipped when there is no bundle', () => {
    const { root } = fakeTree(Date.now(), inputs);
    expect(fresh(join(root, 'dist', 'elsewhere'), root, {})).toBeNull();
  });

  it('is skipped when POPVAULT_CLI_FROM_SOURCE=1 asks for the sources', () => {
    const { root, outDir } = fakeTree(Date.now(), inputs);
    expect(fresh(outDir, root, { POPVAULT_CLI_FROM_SOURCE: '1' })).toBeNull();
  });
});

describe('CLI bundle: behaves as the sources do', () => {
  it('builds, lists every project source it holds, and answers like the sources', async () => {
    // Inside the project, so the bundle resolves the native addon it leaves out from node_modules.
    mkdirSync(join(process.cwd(), 'dist'), { recursive: true });
    const outDir = mkdtempSync(join(process.cwd(), 'dist', 'test-bundle-'));
    onTestFinished(() => rmSync(outDir, { recursive: true, force: true }));
    const count = await buildBundle(outDir);
    expect(count).toBeGreaterThan(10);
    const bundled = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `const { run } = await import('${join(outDir, 'main.mjs')}'); await run(['pull', '--help']);`,
    ]);
    const launcher = fileURLToPath(new URL('../../functions/cli/popvault.mjs', import.meta.url));
    const fromSource = await run(process.execPath, [launcher, 'pull', '--help'], {
      env: { ...process.env, POPVAULT_CLI_FROM_SOURCE: '1' },
    });
    expect(bundled.stdout).toContain('popvault pull');
    expect(bundled.stdout).toBe(fromSource.stdout);
  });
});
