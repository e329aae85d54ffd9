/**
 * Preloaded with `node --import`: at exit, prints this process's own peak RSS to stderr as
 * `popvault-bench-peak-rss-kb=N`.
 *
 * Why not process.resourceUsage().maxRSS: on Linux, ru_maxrss survives exec, and a child that node
 * spawns starts from its parent's memory image, so a child of a process holding a 300 MB corpus
 * reports at least ~300 MB however little it uses itself (measured: 304 MB against a real peak of
 * 39 MB). VmHWM in /proc/self/status belongs to the address space the exec created.
 */
import { readFileSync, writeSync } from 'node:fs';

process.on('exit', () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb !== undefined) writeSync(2, `\npopvault-bench-peak-rss-kb=${kb}\n`);
});
