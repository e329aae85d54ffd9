import { ArchiveError } from '../core/archive/errors.js';
import { CredentialsError } from '../core/credentials/credentials-provider.js';
import { Pop3Error } from '../core/pop3/errors.js';
import { CliError, EXIT } from './cli-error.js';
import { DEMO_HELP, demoCommand } from './commands/demo.js';
import { type CommandIo, PULL_HELP, pullCommand } from './commands/pull.js';
import { READ_HELP, readCommand } from './commands/read.js';
import { SERVE_HELP, serveCommand } from './commands/serve.js';

const USAGE = `popvault: archive POP3 mail into your own storage before it is deleted from the server

Usage:
  popvault pull ...        pull one mailbox into the local archive (or S3 + DynamoDB)
  popvault serve ...       serve the query API over the local archive on 127.0.0.1
  popvault list|show|raw   read the local archive
  popvault demo            a throwaway server, a pull, and the API: see it all in one command

"popvault COMMAND --help" shows each command's options and examples.
`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'pull':
      return pullCommand(rest, io);
    case 'serve':
      return serveCommand(rest, io);
    case 'list':
    case 'show':
    case 'raw':
      return readCommand(command, rest, io);
    case 'demo':
      return demoCommand(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(`${USAGE}\n${command === 'help' && rest[0] ? helpFor(rest[0]) : ''}`);
      return command === undefined ? EXIT.usage : EXIT.ok;
    default:
      throw new CliError(
        `popvault: unknown command "${command}"; the commands are pull, serve, list, show, raw, demo.`,
      );
  }
}

function helpFor(command: string): string {
  return (
    {
      pull: PULL_HELP,
      serve: SERVE_HELP,
      list: READ_HELP,
      show: READ_HELP,
      raw: READ_HELP,
      demo: DEMO_HELP,
    }[command] ?? ''
  );
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
