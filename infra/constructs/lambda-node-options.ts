/**
 * NODE_OPTIONS of the functions, in a module of its own so the benchmarks run their bundles with
 * exactly these options.
 *
 * Every function: `--enable-source-maps`, so traces point at the TypeScript (the bundles ship linked
 * source maps).
 */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';

/**
 * The puller adds `--max-semi-space-size=8` (MiB; V8's default is 16). A pull allocates briskly, and
 * a young generation at its default size left ~30 MB of idle heap in the peak RSS of a 2,000-message
 * pull (BENCHMARKS.md section 3); the extra scavenges cost no measurable time there. It is not for the
 * query API: a non-default heap flag costs Node its startup snapshot, ~30 ms of every cold start.
 */
export const PULLER_NODE_OPTIONS = `${LAMBDA_NODE_OPTIONS} --max-semi-space-size=8`;
