import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { MAILBOX_ID } from '../../core/archive/mailbox-id.js';
import type { MessageIndex, RawStore, RunRecord } from '../../core/archive/ports.js';
import type { CredentialsProvider } from '../../core/credentials/credentials-provider.js';
import { fromFile, providerFor } from '../../core/credentials/secret-sources.js';
import { createMessageParser } from '../../core/message/message-parser.js';
import type { PullOptions } from '../../core/pull/pull-options.js';
import { runPull } from '../../core/pull/pull-run.js';
import { DEFAULT_PORT, type TlsMode, TlsModeSchema } from '../../core/settings/mailbox-settings.js';
import { pullOptionsFrom } from '../../core/settings/pull-settings.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { CliError, EXIT } from '../cli-error.js';
import { defaultArchiveDirectory, openLocalArchive } from '../local-archive.js';
import { createProgressReporter } from '../progress.js';
import { promptHidden } from '../prompt.js';
import { localLeaseIdentity } from '../run-identity.js';
import { applyConfigFile } from './pull-config-file.js';
import { settingsFromFlags } from './pull-flag-settings.js';

export const PULL_HELP = `popvault pull: archive one POP3 mailbox, then delete what was archived (by default)

Usage:
  popvault pull --host HOST --user USER [options]
  popvault pull --config popvault.config.json --mailbox ID [options]

Server:
  --host HOST              POP3 server
  --port N                 default 995 (implicit TLS) or 110 (--tls starttls)
  --tls MODE               implicit (default), starttls, or none (loopback only, with --insecure)
  --insecure               allow --tls none to a loopback address (tests and demos)
  --ca FILE                trust this CA (PEM), e.g. for your own server's self-signed certificate
  --pin SHA256             also pin the server certificate's SHA-256 fingerprint
  --no-pipelining          one command at a time, for servers whose PIPELINING is broken

Credentials (never as a flag value):
  --user USER              login name
  --password-env NAME      read the password from this environment variable (default POPVAULT_PASSWORD)
  --password-file FILE     read the password from a file only you can read (chmod 600)
  --secret-file FILE       a JSON mailbox secret (password or OAuth2 for Microsoft 365 / Gmail)
  (otherwise, on a terminal, you are asked for the password)

What to keep:
  --policy P               delete (default), keep, or delete-after-days
  --delete-after-days N    with --policy delete-after-days
  --max-message-size SIZE  e.g. 25M; larger mail is left on the server (or --oversize store)
  --oversize skip|store
  --max-messages N         per run
  --max-bytes SIZE         per run
  --timeout SECONDS        the run ends (cleanly, with QUIT) before this; default 3600

From the stack's config file:
  --config FILE            take server, user, policy and limits of --mailbox ID from this file
                           (the same format "cdk deploy" reads; see popvault.config.example.json)

Where to:
  --archive DIR            local archive (default: $POPVAULT_ARCHIVE or ~/.local/share/popvault)
  --bucket B --table T     S3 bucket and DynamoDB table instead (standard AWS credentials)
  --mailbox ID             the mailbox's id in the archive (default: USER_HOST, e.g. me_example.com_pop.example.com)
  --json                   print a machine-readable summary

Exit codes: 0 done, 2 usage, 3 some messages failed, 4 retry later, 5 credentials rejected, 6 failed.

Examples:
  POPVAULT_PASSWORD=... popvault pull --host pop.example.com --user me@example.com
  popvault pull --host outlook.office365.com --secret-file ~/.config/popvault/work.json --policy keep
`;

const OPTIONS = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  tls: { type: 'string' },
  insecure: { type: 'boolean' },
  ca: { type: 'string' },
  pin: { type: 'string' },
  'no-pipelining': { type: 'boolean' },
  user: { type: 'string' },
  'password-env': { type: 'string' },
  'password-file': { type: 'string' },
  'secret-file': { type: 'string' },
  policy: { type: 'string' },
  'delete-after-days': { type: 'string' },
  'max-message-size': { type: 'string' },
  oversize: { type: 'string' },
  'max-messages': { type: 'string' },
  'max-bytes': { type: 'string' },
  timeout: { type: 'string' },
  archive: { type: 'string' },
  bucket: { type: 'string' },
  table: { type: 'string' },
  mailbox: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

async function readOwnerOnly(path: string, what: string): Promise<string> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new CliError(`popvault pull: cannot read the ${what} ${path}.`);
  }
  if ((Number(info.mode) & 0o077) !== 0) {
    throw new CliError(`popvault pull: ${path} is readable by other users; run: chmod 600 ${path}`);
  }
  return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
}

async function credentialsFrom(
  values: {
    user?: string;
    'password-env'?: string;
    'password-file'?: string;
    'secret-file'?: string;
  },
  io: CommandIo,
): Promise<CredentialsProvider> {
  if (values['secret-file']) return providerFor(await fromFile(values['secret-file']).load());
  const user = values.user;
  if (!user)
    throw new CliError(
      'popvault pull: --user is required (or --secret-file with a username inside).',
    );
  let password: string | undefined;
  if (values['password-file'])
    password = await readOwnerOnly(values['password-file'], 'password file');
  else {
    const name = values['password-env'] ?? 'POPVAULT_PASSWORD';
    // An empty variable is as good as none: no server takes an empty password.
    password = io.env[name] || undefined;
    if (password === undefined && values['password-env']) {
      throw new CliError(`popvault pull: the environment variable ${name} is not set.`);
    }
  }
  if (password === undefined) {
    if (!process.stdin.isTTY) {
      throw new CliError(
        'popvault pull: no password: set POPVAULT_PASSWORD, or use --password-file or --secret-file.',
      );
    }
    password = await promptHidden(`Password for ${user}: `);
  }
  const secret = password;
  return { get: async () => ({ user, password: secret }) };
}

function exitCodeFor(run: RunRecord): number {
  if (run.outcome === 'success') return EXIT.ok;
  if (run.outcome === 'partial') return run.counts.failed > 0 ? EXIT.partial : EXIT.ok;
  if (run.outcome === 'retry-later') return EXIT.retryLater;
  if (run.errorKind === 'credentials') return EXIT.credentials;
  if (run.errorKind === 'config') return EXIT.usage;
  return EXIT.failed;
}

function summary(run: RunRecord): string {
  const c = run.counts;
  const mb = (c.octets / 1024 / 1024).toFixed(1);
  const parts = [
    `${c.stored} new message${c.stored === 1 ? '' : 's'} archived (${mb} MB received)`,
    `${c.alreadyStored} already archived`,
    `${c.deleted} deleted from the server`,
    `${c.remainingOnServer} left on the server`,
  ];
  if (c.skipped) parts.push(`${c.skipped} skipped (over the size limit)`);
  if (c.failed) parts.push(`${c.failed} failed (kept on the server; the next run retries them)`);
  let text = `${run.mailboxId}: ${parts.join(', ')}.`;
  if (run.stopReason) text += ` Stopped early (${run.stopReason}); run again to continue.`;
  const session = run.session;
  if (session?.utf8 === 'refused')
    text +=
      '\nWarning: the server lists UTF8 but refused it; mail with raw UTF-8 headers may have been served altered (RFC 6856).';
  if (session?.sizesSuspect)
    text += `\nWarning: ${session.sizeMismatches} message(s) arrived with a size other than the server listed; the server may be serving something other than the stored mail. Compare a few with the mailbox on the server before deleting more.`;
  if (run.errorCode)
    text += `\n${run.outcome === 'retry-later' ? 'Try again later' : 'Failed'}: ${run.errorMessage} (${run.errorCode})`;
  return text;
}

/** "me@example.com" on "pop.example.com" becomes "me_example.com_pop.example.com", cut to 64. */
export function defaultMailboxId(user: string, host: string): string {
  const id = `${user}_${host}`.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return id.slice(0, 64) || 'mailbox';
}

interface OpenStore {
  rawStore: RawStore;
  index: MessageIndex;
  close: () => void;
  persistConcurrency: number | undefined;
}

/** The archive a pull writes to: S3 and DynamoDB with --bucket/--table, else a local directory. */
async function openStore(
  values: { bucket?: string; table?: string; archive?: string },
  env: NodeJS.ProcessEnv,
): Promise<OpenStore> {
  if (values.bucket && values.table) {
    // Loaded only for this path: a local pull (and --help) does not pay for the AWS SDK.
    const [{ S3Client }, { DynamoDBClient }, { S3RawStore }, { DynamoMessageIndex }] =
      await Promise.all([
        import('@aws-sdk/client-s3'),
        import('@aws-sdk/client-dynamodb'),
        import('../../adapters/aws/s3-raw-store.js'),
        import('../../adapters/aws/dynamodb-message-index.js'),
      ]);
    return {
      rawStore: new S3RawStore({ client: new S3Client({}), bucket: values.bucket }),
      index: new DynamoMessageIndex({ client: new DynamoDBClient({}), tableName: values.table }),
      close: () => {},
      persistConcurrency: undefined,
    };
  }
  const archive = await openLocalArchive(values.archive ?? defaultArchiveDirectory(env));
  return {
    rawStore: archive.rawStore,
    index: archive.index,
    close: archive.close,
    persistConcurrency: archive.persistConcurrency,
  };
}

/** Runs the pull with progress on stderr, then prints the summary (or JSON) and picks the exit code. */
async function runAndReport(
  options: PullOptions,
  store: OpenStore & { credentials: CredentialsProvider },
  io: CommandIo,
  json: boolean,
): Promise<number> {
  const { rawStore, index, credentials, close } = store;
  const { mailboxId } = options;
  const progress = createProgressReporter(json ? null : io.stderr);
  try {
    const run = await runPull(options, {
      rawStore,
      index,
      credentials,
      createParser: createMessageParser,
      spoolDirectory: tmpdir(),
      now: Date.now,
      newRunId: randomUUID,
      leaseIdentity: localLeaseIdentity(),
      onProgress: (event) => {
        if (event.kind === 'lease-taken-over') {
          io.stderr.write(
            `popvault pull: took over mailbox ${mailboxId} from a run that is no longer alive (${event.previousOwner}).\n`,
          );
        }
        progress.onProgress(event);
      },
    });
    progress.done();
    io.stdout.write(json ? `${JSON.stringify(run)}\n` : `${summary(run)}\n`);
    return exitCodeFor(run);
  } finally {
    close();
  }
}

export async function pullCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs('pull', argv, OPTIONS);
  if (parsed.values.help) {
    io.stdout.write(PULL_HELP);
    return EXIT.ok;
  }
  const { values, caPem } = await applyConfigFile(parsed.values);
  if (!values.host && !values['secret-file']) {
    throw new CliError('popvault pull: --host is required. See "popvault pull --help".');
  }
  if (!values.host) throw new CliError('popvault pull: --host is required.');
  const tls = (values.tls ?? 'implicit') as TlsMode;
  if (!TlsModeSchema.options.includes(tls)) {
    throw new CliError(
      `popvault pull: --tls must be implicit, starttls or none, got "${values.tls}".`,
    );
  }
  if ((values.bucket === undefined) !== (values.table === undefined)) {
    throw new CliError('popvault pull: --bucket and --table go together.');
  }
  if (values.bucket && values.archive)
    throw new CliError('popvault pull: use either --archive or --bucket/--table.');
  const timeoutSeconds = positiveInt('pull', 'timeout', values.timeout) ?? 3600;
  const caFromFile = values.ca
    ? await readFile(values.ca, 'utf8').catch(() => {
        throw new CliError(`popvault pull: cannot read the CA file ${values.ca}.`);
      })
    : undefined;
  const ca = caFromFile ?? caPem ?? undefined;
  // Checked before a password prompt or an archive opens: a bad flag costs nothing.
  const flagSettings = settingsFromFlags(
    { ...values, host: values.host, tls },
    { defaultPort: DEFAULT_PORT[tls], caPem: ca ?? null },
  );

  const credentials = await credentialsFrom(values, io);
  const userForId = values.user ?? (await credentials.get()).user;
  const mailboxId = values.mailbox ?? defaultMailboxId(userForId, values.host);
  if (!MAILBOX_ID.test(mailboxId)) {
    throw new CliError(
      `popvault pull: --mailbox must be 1-64 letters, digits, ".", "_" or "-" (it names the mailbox in the archive and the API), got "${mailboxId}".`,
    );
  }

  const store = await openStore(values, io.env);
  const { persistConcurrency } = store;

  const options: PullOptions = {
    ...pullOptionsFrom({ ...flagSettings, mailboxId }),
    hardDeadline: Date.now() + timeoutSeconds * 1000,
    ...(persistConcurrency === undefined ? {} : { persistConcurrency }),
  };
  return await runAndReport(options, { ...store, credentials }, io, values.json === true);
}
