import { ARCHIVE_READ_OPTIONS, openArchiveApi } from '../archive-api.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { CliError, EXIT } from '../cli-error.js';
import type { CommandIo } from './pull.js';

export const SEARCH_HELP = `popvault search: find archived messages by the words in them

Usage:
  popvault search QUERY [--mailbox ID] [--limit N] [--json] [--archive DIR | --api URL]

Searches subjects, senders, recipients, attachment names and message text, best match first.
QUERY is one argument (quote it in the shell):
  invoice march                every word must match (case and accents do not matter)
  "march report"               a phrase
  -draft  -"old news"          leave out messages with a word or phrase
  from:alice  to:bob  subject:budget  attachment:pdf  body:"see below"
  has:attachment  before:2024-06-01  after:2024-01-01  repo*   (words starting with "repo")

IDs open with "popvault show ID". Messages archived before search existed are found once
"popvault reindex" has read their text.
`;

interface Hit {
  id: string;
  mailboxId: string;
  subject: string | null;
  date: string | null;
  archivedAt: string;
  from: Array<{ address: string; name: string }>;
  excerpt: Array<{ text: string; match: boolean }>;
}

/** One hit in two lines: who, when and what, then the excerpt with the matches in [brackets]. */
function render(hits: Hit[]): string {
  if (hits.length === 0) return '(no message matches)';
  return hits
    .map((hit) => {
      const from = hit.from[0]?.address ?? '';
      const excerpt = hit.excerpt
        .map((part) => (part.match ? `[${part.text}]` : part.text))
        .join('');
      return `${hit.id}  ${hit.date ?? hit.archivedAt}  ${hit.mailboxId}  ${from}  ${hit.subject ?? '(no subject)'}\n    ${excerpt}`;
    })
    .join('\n');
}

export async function searchCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('search', argv, ARCHIVE_READ_OPTIONS, true);
  if (values.help) {
    io.stdout.write(SEARCH_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new CliError(
      'popvault search: give the query as one argument, quoted: popvault search "invoice from:alice".',
    );
  }
  const params = new URLSearchParams({ q: positionals[0] ?? '' });
  if (values.mailbox !== undefined) params.set('mailbox', values.mailbox);
  params.set('limit', String(positiveInt('search', 'limit', values.limit) ?? 20));
  const archive = await openArchiveApi('search', values, io.env);
  try {
    const response = await archive.request(`/search?${params}`);
    const body = (await response.json()) as {
      items?: Hit[];
      error?: { code: string; message: string };
    };
    if (!response.ok || body.items === undefined) {
      throw new CliError(
        `popvault search: ${body.error?.message} (${body.error?.code})`,
        EXIT.usage,
      );
    }
    io.stdout.write(values.json ? `${JSON.stringify(body, null, 2)}\n` : `${render(body.items)}\n`);
    return EXIT.ok;
  } finally {
    archive.close();
  }
}
