/**
 * Starts the chaos pull child and waits for it: bundled once with esbuild (a cold `tsx` start costs
 * about a second of the two cores per run; a bundle starts in a fraction of that), in a process
 * group of its own so a SIGKILL reaches it even when it runs under `unshare` for the disk-full fault.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChaosChildConfig } from './chaos-child.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..');
// Under node_modules so the bundle's one external (better-sqlite3) resolves from the repository.
const BUNDLE_DIRECTORY = join(REPO_ROOT, 'node_modules', '.cache', 'popvault-chaos');

let bundled: Promise<string> | null = null;
const TMPFS_UNAVAILABLE = 97;

/**
 * Named after its content: chaos runs started together (the suite's and a long one) share a file
 * when their code is the same and never rewrite one another's, and a killed runner leaves no
 * per-process file behind. Written under a unique name and renamed, so no child reads half of it.
 */
export function bundleChild(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [join(HERE, 'chaos-child.ts')],
      outfile: join(BUNDLE_DIRECTORY, 'chaos-child.mjs'),
      write: false,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: ['better-sqlite3'],
      banner: {
        js: "import { createRequire as __chaosRequire } from 'node:module'; const require = __chaosRequire(import.meta.url);",
      },
      logLevel: 'error',
    });
    const code = result.outputFiles[0]?.contents;
    if (code === undefined) throw new Error('esbuild produced no chaos child bundle');
    const digest = createHash('sha256').update(code).digest('hex').slice(0, 16);
    const path = join(BUNDLE_DIRECTORY, `chaos-child-${digest}.mjs`);
    if (!existsSync(path)) {
      mkdirSync(BUNDLE_DIRECTORY, { recursive: true });
      const partial = `${path}.${process.pid}.tmp`;
      writeFileSync(partial, code);
      renameSync(partial, path);
    }
    return path;
  })();
  return bundled;
}

export interface ChildResult {
  /** 'killed' when a SIGKILL ended it; else the run's outcome, or 'crashed' with no outcome line. */
  outcome: string;
  errorCode: string | null;
  storageFaults: string[];
  /** True when the watchdog had to kill it: the pull outran its own hard deadline. */
  overran: boolean;
  stderr: string;
}

export interface RunningChild {
  kill(): void;
  done: Promise<ChildResult>;
}

export interface DiskFull {
  /** Mounted as a tmpfs of `octets` at `directory` in a private mount namespace... */
  directory: string;
  octets: number;
  /** ...whose contents are copied here when the pull ends, for the checks and recovery pulls. */
  copyTo: string;
}

export async function startChild(
  config: ChaosChildConfig,
  watchdogMs: number,
  diskFull: DiskFull | null,
): Promise<RunningChild> {
  const bundle = await bundleChild();
  const env = { ...process.env, POPVAULT_CHAOS_CHILD: JSON.stringify(config) };
  const child =
    diskFull === null
      ? spawn(process.execPath, [bundle], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        })
      : spawn(
          'unshare',
          [
            '--mount',
            '--propagation',
            'private',
            'sh',
            '-c',
            `mount -t tmpfs -o "size=$2,mode=0700" chaos-full "$1" || exit ${TMPFS_UNAVAILABLE}; "$4" "$5"; rc=$?; cp -a "$1"/. "$3"/; exit $rc`,
            'chaos-disk-full',
            diskFull.directory,
            String(diskFull.octets),
            diskFull.copyTo,
            process.execPath,
            bundle,
          ],
          { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
        );
  let killed = false;
  let overran = false;
  const kill = (): void => {
    if (killed || child.pid === undefined) return;
    killed = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const watchdog = setTimeout(() => {
    overran = true;
    kill();
  }, watchdogMs);
  let stderr = '';
  // unshare missing: Node reports it here, then closes the child with a negative code.
  child.once('error', (error) => {
    stderr += `${error.message}\n`;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString();
  });
  const done = (async (): Promise<ChildResult> => {
    const exited = new Promise<number | null>((resolveExit) =>
      child.once('close', (code) => resolveExit(code)),
    );
    const storageFaults: string[] = [];
    let outcome = 'crashed';
    let errorCode: string | null = null;
    if (child.stdout !== null) {
      for await (const line of createInterface({ input: child.stdout })) {
        try {
          const event = JSON.parse(line) as {
            kind?: string;
            description?: string;
            outcome?: string;
            errorCode?: string | null;
          };
          if (event.kind === 'storage-fault' && event.description !== undefined)
            storageFaults.push(event.description);
          if (event.kind === 'done') {
            outcome = event.outcome ?? 'crashed';
            errorCode = event.errorCode ?? null;
          }
        } catch {
          // Not one of ours (a stray log line): ignored.
        }
      }
    }
    const code = await exited;
    clearTimeout(watchdog);
    // The sh wrapper's own code: no tmpfs could be mounted (not root, no user namespaces).
    if (diskFull !== null && code === TMPFS_UNAVAILABLE) outcome = 'tmpfs-unavailable';
    // A child that died on its own names its error, e.g. SQLITE_FULL opening a full disk.
    const crash = /\bcode: '([A-Z_0-9]+)'/.exec(stderr)?.[1] ?? null;
    return {
      outcome: killed ? 'killed' : outcome,
      errorCode: outcome === 'crashed' ? crash : errorCode,
      storageFaults,
      overran,
      stderr,
    };
  })();
  return { kill, done };
}
