import { ArchiveError } from '../core/archive/errors.js';
import { CredentialsError } from '../core/credentials/credentials-provider.js';
import { Pop3Error } from '../core/pop3/errors.js';
import { CliError, EXIT } from './cli-error.js';
import type { CommandIo } from './commands/pull.js';

const USAGE = `popvault: archive POP3 mail into your own storage before it is deleted from the server

Usage:
  popvault pull ...        pull one mailbox into the local archive (or S3 + DynamoDB)
  popvault serve ...       serve the query API over the local archive on 127.0.0.1
  popvault list|show|raw   read the local archive
  popvault search QUERY    find messages by the words in them ("popvault search --help": syntax)
  popvault reindex         index the text of messages archived before search existed
  popvault demo            a throwaway server, a pull, and the API: see it all in one command

"popvault COMMAND --help" shows each command's options and examples.
`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [command, ...rest] = argv;
  // Each command loads only what it needs (the AWS SDK, Hono, SQLite): start-up is paid per use.
  switch (command) {
    case 'pull':
      return (await import('./commands/pull.js')).pullCommand(rest, io);
    case 'serve':
      return (await import('./commands/serve.js')).serveCommand(rest, io);
    case 'list':
    case 'show':
    case 'raw':
      return (await import('./commands/read.js')).readCommand(command, rest, io);
    case 'search':
      return (await import('./commands/search.js')).searchCommand(rest, io);
    case 'reindex':
      return (await import('./commands/reindex.js')).reindexCommand(rest, io);
    case 'demo':
      return (await import('./commands/demo.js')).demoCommand(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(`${USAGE}\n${command === 'help' && rest[0] ? await helpFor(rest[0]) : ''}`);
      return command === undefined ? EXIT.usage : EXIT.ok;
    default:
      throw new CliError(
        `popvault: unknown command "${command}"; the commands are pull, serve, list, show, raw, search, reindex, demo.`,
      );
  }
}

async function helpFor(command: string): Promise<string> {
  switch (command) {
    case 'pull':
      return (await import('./commands/pull.js')).PULL_HELP;
    case 'serve':
      return (await import('./commands/serve.js')).SERVE_HELP;
    case 'list':
    case 'show':
    case 'raw':
      return (await import('./commands/read.js')).READ_HELP;
    case 'search':
      return (await import('./commands/search.js')).SEARCH_HELP;
    case 'reindex':
      return (await import('./commands/reindex.js')).REINDEX_HELP;
    case 'demo':
      return (await import('./commands/demo.js')).DEMO_HELP;
    default:
      return '';
  }
}

/** One line for every error a user can meet; a stack trace only with POPVAULT_DEBUG=1. */
export function reportError(
  err: unknown,
  stderr: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv,
): number {
  if (err instanceof CliError) {
    stderr.write(`${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof Pop3Error || err instanceof ArchiveError || err instanceof CredentialsError) {
    stderr.write(`popvault: ${err.message} (${err.code})\n`);
    return err instanceof CredentialsError ? EXIT.credentials : EXIT.failed;
  }
  stderr.write(`popvault: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
  if (env.POPVAULT_DEBUG === '1' && err instanceof Error) stderr.write(`${err.stack}\n`);
  else stderr.write('Run again with POPVAULT_DEBUG=1 for details, and report it if it persists.\n');
  return EXIT.internal;
}

/** The process entry: runs the command and sets the exit code; never throws. */
export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  const io: CommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  try {
    process.exitCode = await main(argv, io);
  } catch (err) {
    process.exitCode = reportError(err, process.stderr, process.env);
  }
}
