/**
 * Where the reading commands (list, show, raw, search) send their requests: the local archive's query
 * app in-process, or a deployed archive's API signed with SigV4 (--api). One response shape either way.
 */
import { createQueryApp } from '../query-api/create-query-app.js';
import { CliError } from './cli-error.js';
import { defaultArchiveDirectory, openLocalArchive } from './local-archive.js';
import { createSignedApiClient } from './signed-api-client.js';

/** The flags every reading command takes. */
export const ARCHIVE_READ_OPTIONS = {
  archive: { type: 'string' },
  api: { type: 'string' },
  region: { type: 'string' },
  mailbox: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ArchiveApi {
  request(path: string): Promise<Response>;
  close(): void;
}

export async function openArchiveApi(
  command: string,
  values: { archive?: string | undefined; api?: string | undefined; region?: string | undefined },
  env: NodeJS.ProcessEnv,
): Promise<ArchiveApi> {
  if (values.api && values.archive) {
    throw new CliError(`popvault ${command}: use either --archive or --api.`);
  }
  if (values.api) {
    const region = values.region ?? env.AWS_REGION;
    const get = createSignedApiClient({ baseUrl: values.api, ...(region ? { region } : {}) });
    return { request: get, close: () => {} };
  }
  // Reads go through the same query app the API serves: one set of validation for both.
  const archive = await openLocalArchive(values.archive ?? defaultArchiveDirectory(env));
  const app = createQueryApp({
    index: archive.index,
    store: archive.rawStore,
    search: archive.index,
  });
  return { request: async (path) => app.request(path), close: archive.close };
}
