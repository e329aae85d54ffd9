import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { createQueryApp } from '../../query-api/create-query-app.js';
import { createLocalServerApp } from '../../viewer/local-server-app.js';
import { createLocalSessions } from '../../viewer/local-sessions.js';
import { remoteApi } from '../../viewer/remote-api.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { CliError, EXIT } from '../cli-error.js';
import { defaultArchiveDirectory, ensureApiToken, openLocalArchive } from '../local-archive.js';
import type { CommandIo } from './pull.js';

export const SERVE_HELP = `popvault serve: the archive viewer and the query API, on 127.0.0.1 only

Usage:
  popvault serve [--archive DIR] [--port N]
  popvault serve --api URL [--region REGION] [--port N]

--api URL shows a deployed archive (the stack's ApiUrl output) in the same viewer: its API calls are
signed with SigV4 from your AWS credentials (environment, profile or SSO), so no public web app is
needed.

Open the link it prints to use the viewer: the link signs you in once (its code is then spent) and
the browser keeps a session cookie no other site can use.

API requests need "Authorization: Bearer TOKEN" (or the viewer's cookie); the token is created at first start in
DIR/api-token, and the header line itself in DIR/api-auth-header (both readable by you only).
Let curl read the header from that file (-H @FILE, curl 7.55 or later): a token in a command line
is visible to every user on the machine. Stop with Ctrl-C.

Example:
  popvault serve --port 8025
  curl -H @"$HOME/.local/share/popvault/api-auth-header" http://127.0.0.1:8025/mailboxes
`;

const OPTIONS = {
  archive: { type: 'string' },
  api: { type: 'string' },
  region: { type: 'string' },
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
  /** Opens the viewer signed in, once: the code in its fragment is spent by the first use. */
  loginUrl: string;
  /** A new one-time link (the one before it stops working). */
  newLoginUrl(): string;
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
  const api = createQueryApp({
    index: archive.index,
    store: archive.rawStore,
    search: archive.index,
  });
  try {
    const viewer = await listenViewer(api, token, port);
    return {
      ...viewer,
      tokenPath,
      headerPath,
      stop: async () => {
        await viewer.stop();
        archive.close();
      },
    };
  } catch (error) {
    archive.close();
    throw error;
  }
}

/** The viewer and the API on 127.0.0.1 behind the local guard, with its one-time sign-in links. */
async function listenViewer(
  api: { fetch(request: Request): Response | Promise<Response> },
  bearerToken: string,
  port: number,
): Promise<Pick<Served, 'url' | 'loginUrl' | 'newLoginUrl' | 'stop'>> {
  const sessions = createLocalSessions();
  let listening = port;
  const app = createLocalServerApp({ api, sessions, bearerToken, port: () => listening });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new CliError(`popvault serve: port ${port} is in use; pick another with --port`)
          : err,
      );
    });
  });
  const address = server.address();
  listening = typeof address === 'object' && address ? address.port : port;
  const url = `http://127.0.0.1:${listening}`;
  return {
    url,
    loginUrl: `${url}/#login=${sessions.issueLoginCode()}`,
    newLoginUrl: () => `${url}/#login=${sessions.issueLoginCode()}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The viewer over a deployed archive: its API calls go to `apiUrl`, signed with SigV4. Only the
 * viewer's sessions are accepted: the bearer token is random and never shown, since there is no
 * local archive whose token a script could use.
 */
export async function startRemoteViewer(options: {
  apiUrl: string;
  port: number;
  region?: string;
  credentials?: Parameters<typeof remoteApi>[0]['credentials'];
}): Promise<Pick<Served, 'url' | 'loginUrl' | 'newLoginUrl' | 'stop'>> {
  const api = remoteApi({
    baseUrl: options.apiUrl,
    ...(options.region ? { region: options.region } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  return listenViewer(api, randomBytes(32).toString('base64url'), options.port);
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

async function serveRemote(
  io: CommandIo,
  options: { apiUrl: string; port: number; region: string | undefined },
): Promise<number> {
  const served = await startRemoteViewer({
    apiUrl: options.apiUrl,
    port: options.port,
    ...(options.region ? { region: options.region } : {}),
  });
  const stopped = untilStopped();
  io.stdout.write(`popvault viewer on ${served.url}, reading ${options.apiUrl} (SigV4)\n`);
  io.stdout.write(`open it (this link signs you in once): ${served.loginUrl}\n`);
  await stopped;
  await served.stop();
  return EXIT.ok;
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
  if (values.api !== undefined) {
    if (values.archive !== undefined) {
      throw new CliError('popvault serve: use either --archive or --api.');
    }
    return serveRemote(io, { apiUrl: values.api, port, region: values.region });
  }
  const directory = values.archive ?? defaultArchiveDirectory(io.env);
  const served = await startLocalApi(directory, port);
  // Listen for the stop signal before announcing the URL, so a signal right after it is handled.
  const stopped = untilStopped();
  io.stdout.write(`popvault API on ${served.url} (archive ${directory})\n`);
  io.stdout.write(`open the viewer (this link signs you in once): ${served.loginUrl}\n`);
  io.stdout.write(
    `bearer token in ${served.tokenPath}; try:\n  ${curlCommand(served, '/mailboxes')}\n`,
  );
  await stopped;
  await served.stop();
  return EXIT.ok;
}
