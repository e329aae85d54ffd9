/**
 * NODE_OPTIONS for every popvault function:
 * - `--enable-source-maps`: traces point at the TypeScript (the bundles ship linked source maps);
 * - `--max-semi-space-size=8` (MiB; V8's default is 16): a pull allocates briskly, and a young
 *   generation at its default size left ~40 MB of an idle heap in the peak RSS of a 2,000-message pull
 *   (BENCHMARKS.md section 3). The scavenges it adds cost no measurable time there.
 *
 * A module of its own so the memory benchmark runs its bundle with exactly these options.
 */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps --max-semi-space-size=8';
