/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, and self
 * time by package (node_modules/<name>, node: internals, the project's own files), as markdown.
 *
 *   npx tsx bench/profile-top.ts CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMain, REPO_ROOT, table } from './lib.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function where(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = path.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? path);
  }
  // A bundle in a synthesized assembly: the asset directory's hash says nothing to a reader.
  const asset = /cdk\.out\/asset\.([0-9a-f]{8})[0-9a-f]*\/(.*)$/.exec(path);
  if (asset) return `cdk.out asset ${asset[1]}…/${asset[2]}`;
  return relative(REPO_ROOT, path);
}

export function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const totalUs = profile.endTime - profile.startTime;
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  // Library and runtime time charged to the project's own function that called into it: shows
  // which part of popvault (parser, POP3 client, stores) the time is spent for.
  const ownerOf = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url } = byId.get(at)?.callFrame ?? { functionName: '', url: '' };
      const file = where(url);
      if (file.startsWith('functions/') || file.startsWith('bench/') || file.startsWith('test/')) {
        return `${functionName || '(anonymous)'} ${file}`;
      }
    }
    const own = byId.get(id)?.callFrame;
    return own && ['(idle)', '(garbage collector)', '(program)'].includes(own.functionName)
      ? own.functionName
      : '(no project frame on the stack: loader, runtime)';
  };
  const frames = new Map<string, number>();
  const packages = new Map<string, number>();
  const owners = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const pkg = where(url);
    const name = `${functionName || '(anonymous)'} ${pkg}${url ? `:${lineNumber + 1}` : ''}`;
    frames.set(name, (frames.get(name) ?? 0) + us);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const owner = ownerOf(id);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => [
        name.replace(/\|/g, '\\|'),
        (us / 1000).toFixed(0),
        `${((us / totalUs) * 100).toFixed(1)}%`,
      ]);
  return [
    `profile: ${(totalUs / 1e6).toFixed(2)} s sampled`,
    '',
    table(['function (self time)', 'ms', 'share'], rows(frames)),
    '',
    table(['where (self time)', 'ms', 'share'], rows(packages)),
    '',
    table(['nearest project function on the stack', 'ms', 'share'], rows(owners)),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  for (const file of positionals) {
    console.log(`#### ${file}\n`);
    console.log(
      summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(values.top)),
    );
    console.log();
  }
}
