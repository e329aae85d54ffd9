import { decodeMessageRef } from '../../query-api/params.js';
import { ARCHIVE_READ_OPTIONS, openArchiveApi } from '../archive-api.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { CliError, EXIT } from '../cli-error.js';
import type { CommandIo } from './pull.js';

export const READ_HELP = `popvault list | show | raw: read the local archive from the terminal

Usage:
  popvault list [--mailbox ID] [--limit N] [--json] [--archive DIR | --api URL]
  popvault show ID [--json] [--archive DIR | --api URL]
  popvault raw ID [--archive DIR | --api URL] > message.eml

--api URL reads a deployed archive through its API (the stack's ApiUrl output), signing each request
with SigV4 from the standard AWS credentials (env, profile, SSO, role); --region if the URL does not
name one.

"list" without --mailbox lists mailboxes; with it, that mailbox's newest messages. IDs come from
"list". "raw" writes the exact archived bytes.
`;

interface ApiError {
  error: { code: string; message: string };
}

/**
 * A message's path under its mailbox (/mailboxes/{mailbox}/messages/{id}), the route an IAM policy
 * can grant one mailbox by; the mailbox comes from the id itself, which names it.
 */
function messagePath(command: string, id: string): string {
  let mailboxId: string;
  try {
    mailboxId = decodeMessageRef(id).mailboxId;
  } catch {
    throw new CliError(
      `popvault ${command}: ${JSON.stringify(id.slice(0, 80))} is not a message ID; take one from "popvault list --mailbox ID".`,
    );
  }
  return `/mailboxes/${encodeURIComponent(mailboxId)}/messages/${encodeURIComponent(id)}`;
}

export async function readCommand(
  command: 'list' | 'show' | 'raw',
  argv: string[],
  io: CommandIo,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(command, argv, ARCHIVE_READ_OPTIONS, true);
  if (values.help) {
    io.stdout.write(READ_HELP);
    return EXIT.ok;
  }
  const id = positionals[0];
  if (command !== 'list' && (id === undefined || positionals.length > 1)) {
    throw new CliError(
      `popvault ${command}: give exactly one message ID (from "popvault list --mailbox ID").`,
    );
  }
  const limit = positiveInt(command, 'limit', values.limit) ?? 20;
  const path =
    command === 'list'
      ? values.mailbox
        ? `/mailboxes/${encodeURIComponent(values.mailbox)}/messages?limit=${limit}`
        : '/mailboxes'
      : `${messagePath(command, id ?? '')}${command === 'raw' ? '/raw' : ''}`;
  const archive = await openArchiveApi(command, values, io.env);
  try {
    const response = await archive.request(path);
    if (!response.ok) {
      const body = (await response.json()) as ApiError;
      throw new CliError(
        `popvault ${command}: ${body.error.message} (${body.error.code})`,
        EXIT.usage,
      );
    }
    if (command === 'raw') {
      io.stdout.write(Buffer.from(await response.arrayBuffer()));
      return EXIT.ok;
    }
    const body = (await response.json()) as Record<string, unknown>;
    if (values.json) {
      io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return EXIT.ok;
    }
    io.stdout.write(`${render(command, body)}\n`);
    return EXIT.ok;
  } finally {
    archive.close();
  }
}

function render(command: 'list' | 'show', body: Record<string, unknown>): string {
  const rows = (body.mailboxes ?? body.messages ?? body.items) as
    | Array<Record<string, unknown>>
    | undefined;
  if (command === 'list' && Array.isArray(rows)) {
    if (rows.length === 0) return '(nothing archived yet)';
    return rows
      .map((row) =>
        'mailboxId' in row && !('subject' in row)
          ? `${row.mailboxId}  ${row.messages} messages  ${row.octets} bytes`
          : `${row.id}  ${row.date ?? row.archivedAt ?? ''}  ${firstAddress(row.from)}  ${row.subject ?? '(no subject)'}`,
      )
      .join('\n');
  }
  return JSON.stringify(body, null, 2);
}

function firstAddress(from: unknown): string {
  if (Array.isArray(from) && from[0] && typeof from[0] === 'object')
    return String((from[0] as { address?: string }).address ?? '');
  return '';
}
