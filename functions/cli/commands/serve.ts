import { serve } from '@hono/node-server';
import { createQueryApp } from '../../query-api/create-query-app.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { CliError, EXIT } from '../cli-error.js';
import { defaultArchiveDirectory, ensureApiToken, openLocalArchive } from '../local-archive.js';
import type { CommandIo } from './pull.js';

export const SERVE_HELP = `popvault serve: the query API over the local archive, on 127.0.0.1 only

Usage:
  popvault serve [--archive DIR] [--port N]

Every request needs "Authorization: Bearer TOKEN"; the token is created at first start in
DIR/api-token, and the header line itself in DIR/api-auth-header (both readable by you only).
Let curl read the header from that file (-H @FILE, curl 7.55 or later): a token in a command line
is visible to every user on the machine. Stop with Ctrl-C.

Example:
  popvault serve --port 8025
  curl -H @"$HOME/.local/share/popvault/api-auth-header" http://127.0.0.1:8025/mailboxes
`;

const OPTIONS = {
  archive: { type: 'string' },
  port: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * What a started API tells its user: where it listens and where the token is. Never the token itself,
 * which would end up on screens, in scrollback and in logs.
 */
export interface Served {
  url: string;
  tokenPath: string;
  /** The file holding the "Authorization: Bearer ..." line, for `curl -H @FILE`. */
  headerPath: string;
  stop(): Promise<void>;
}

/** Shell-quotes a word only when it needs it, so the usual paths print as they are. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A curl command for one route that takes the header from the file: nothing secret in its argv,
 * which every user on the machine can read (ps, /proc/PID/cmdline).
 */
export function curlCommand(served: Served, route: string): string {
  return `curl -s -H @${shellWord(served.headerPath)} ${served.url}${route}`;
}

/** Starts the local API; shared by `serve` and `demo`. Listens on loopback only, never all interfaces. */
export async function startLocalApi(directory: string, port: number): Promise<Served> {
  const archive = await openLocalArchive(directory);
  let token: string;
  let tokenPath: string;
  let headerPath: string;
  try {
    ({ token, tokenPath, headerPath } = await ensureApiToken(directory));
  } catch (error) {
    archive.close();
    throw error;
  }
  const app = createQueryApp({
    index: archive.index,
    store: archive.rawStore,
    search: archive.index,
    auth: { bearerToken: token },
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => {
      archive.close();
      reject(
        err.code === 'EADDRINUSE'
          ? new CliError(`popvault serve: port ${port} is in use; pick another with --port`)
          : err,
      );
    });
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    tokenPath,
    headerPath,
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      archive.close();
    },
  };
}

/** Resolves on SIGINT or SIGTERM: the polite ways to ask a foreground command to stop. */
export function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = stop('SIGINT');
    const onTerm = stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

export async function serveCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('serve', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(SERVE_HELP);
    return EXIT.ok;
  }
  // 0 asks the system for any free port (the URL printed says which).
  const port = values.port === '0' ? 0 : (positiveInt('serve', 'port', values.port) ?? 8025);
  if (port > 65535) throw new CliError(`popvault serve: --port must be 0-65535, got ${port}.`);
  const directory = values.archive ?? defaultArchiveDirectory(io.env);
  const served = await startLocalApi(directory, port);
  // Listen for the stop signal before announcing the URL, so a signal right after it is handled.
  const stopped = untilStopped();
  io.stdout.write(`popvault API on ${served.url} (archive ${directory})\n`);
  io.stdout.write(
    `bearer token in ${served.tokenPath}; try:\n  ${curlCommand(served, '/mailboxes')}\n`,
  );
  await stopped;
  await served.stop();
  return EXIT.ok;
}
