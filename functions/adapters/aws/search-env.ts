/**
 * The variable that turns on search in a deployed function, set by the stack beside the S3 grant it
 * needs (infra/constructs/puller-function.ts, query-api.ts). Unset, the puller journals no text and
 * flushes nothing, and the query API has no search: the state of a stack deployed before search.
 */
export const SEARCH_VARIABLE = 'POPVAULT_SEARCH';
/** Per-mailbox FTS5 segments in the archive bucket (README, "Search in AWS"). */
export const SEARCH_S3_SEGMENTS = 's3-segments';
/** Where the query function caches segments: Lambda's only writable directory. */
export const SEARCH_CACHE_DIRECTORY = '/tmp/popvault-search';

export function searchEnabled(env: Record<string, string | undefined>): boolean {
  const value = env[SEARCH_VARIABLE];
  if (value === undefined || value === '') return false;
  if (value !== SEARCH_S3_SEGMENTS) {
    throw new Error(
      `environment variable ${SEARCH_VARIABLE} is ${JSON.stringify(value)}, not "${SEARCH_S3_SEGMENTS}"; the popvault stack sets it, so deploy again with "npx cdk deploy"`,
    );
  }
  return true;
}
