/** Types for cli-bundle.mjs, which stays plain JavaScript so the launcher can load it before tsx. */
export function freshBundle(outDir?: string, root?: string, env?: NodeJS.ProcessEnv): string | null;
export function buildBundle(outDir?: string): Promise<number>;
