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

// With POPVAULT_BENCH_MEMORY_SAMPLE=1, also prints what made up the largest RSS sampled every 20 ms
// (V8 heap, Buffers and other external memory, the rest), to see where a peak comes from.
if (process.env.POPVAULT_BENCH_MEMORY_SAMPLE === '1') {
  let largest = process.memoryUsage();
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    if (now.rss > largest.rss) largest = now;
  }, 20);
  sampler.unref();
  process.on('exit', () => {
    const mb = (n) => (n / 1e6).toFixed(0);
    writeSync(
      2,
      `popvault-bench-memory-at-peak rss=${mb(largest.rss)} heapTotal=${mb(largest.heapTotal)} heapUsed=${mb(largest.heapUsed)} external=${mb(largest.external)} arrayBuffers=${mb(largest.arrayBuffers)} MB\n`,
    );
  });
}
