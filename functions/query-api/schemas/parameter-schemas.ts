/**
 * The parameters of the query API's routes, each declared once: the route declarations take both
 * their validation and their OpenAPI description from here.
 *
 * Every value is read by a params.ts helper. An ApiError the helper throws rides in the zod issue
 * (validation-hook.ts throws it as it is), so a refused value gets the code and message params.ts
 * phrases. The OpenAPI metadata describes the value a client sends, which is always a string in the
 * URL, in the terms a client thinks of it (an integer, an enum).
 *
 * Query objects are strict: a parameter the route does not take is refused, not ignored, since a typo
 * ("sinse") would otherwise silently widen a listing.
 */
import { z } from '@hono/zod-openapi';
import { MAILBOX_ID_PATTERN } from '../../core/archive/mailbox-id.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_ATTACHMENTS_LISTED,
  MAX_MESSAGE_ID_LENGTH,
  MAX_SUBJECT_LENGTH,
} from '../../core/message/message-limits.js';
import { MAX_SEARCH_LIMIT } from '../../core/search/search-page.js';
import { MAX_QUERY_LENGTH } from '../../core/search/search-query.js';
import { ApiError } from '../errors.js';
import {
  DEFAULT_ACTIVITY_DAYS,
  DEFAULT_MESSAGE_LIMIT,
  DEFAULT_RUN_LIMIT,
  DEFAULT_SEARCH_LIMIT,
  decodeMessageRef,
  MAX_ACTIVITY_DAYS,
  MAX_CURSOR_LENGTH,
  MAX_MESSAGE_LIMIT,
  MAX_MESSAGE_REF_LENGTH,
  MAX_RUN_LIMIT,
  parseAddress,
  parseAttachmentIndex,
  parseBoolean,
  parseCursor,
  parseDateBound,
  parseDays,
  parseLimit,
  parseMailboxId,
  parseMessageIdQuery,
  parseSearchParam,
  parseSubject,
  quote,
} from '../params.js';

/** Where an issue keeps the ApiError that refuses the value. */
const API_ERROR = 'apiError';

/** Refuses the value being parsed with `error`, exactly as the error says. */
function refuse(ctx: z.core.$RefinementCtx, error: ApiError, input: unknown): void {
  ctx.addIssue({ code: 'custom', message: error.message, input, params: { [API_ERROR]: error } });
}

/** The ApiError a parameter schema put in `issue`, if it put one there. */
export function apiErrorOf(issue: z.core.$ZodIssue): ApiError | undefined {
  const carried = issue.code === 'custom' ? issue.params?.[API_ERROR] : undefined;
  return carried instanceof ApiError ? carried : undefined;
}

/**
 * A string parameter read by `parse`. `absent` is the message for a required parameter left out;
 * without it the parameter must be made optional.
 */
function readBy<T>(parse: (value: string) => T, absent?: string) {
  const base =
    absent === undefined
      ? z.string()
      : z.string({ error: (issue) => (issue.input === undefined ? absent : undefined) });
  return base.transform((value, ctx): T => {
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      refuse(ctx, error, value);
      return z.NEVER;
    }
  });
}

/** The query parameters of one route, in the order the document lists them. */
function queryOf<Shape extends z.ZodRawShape>(shape: Shape) {
  const names = Object.keys(shape);
  const accepted = names.length === 0 ? 'none' : names.join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown query parameter ${quote(issue.keys[0] ?? '')}; this route accepts: ${accepted}`
        : undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// Path parameters
// ---------------------------------------------------------------------------------------------

const mailboxId = readBy(parseMailboxId).openapi({ type: 'string', pattern: MAILBOX_ID_PATTERN });

const messageRef = readBy(decodeMessageRef).openapi({
  type: 'string',
  description: 'The opaque `id` of a message, as listings return it.',
  pattern: '^[A-Za-z0-9_-]+$',
  maxLength: MAX_MESSAGE_REF_LENGTH,
});

const attachmentIndex = readBy(parseAttachmentIndex).openapi({
  type: 'integer',
  description: "0-based position in the message's `attachments` list.",
  minimum: 0,
  maximum: MAX_ATTACHMENTS_LISTED - 1,
});

export const MailboxParams = z.object({ mailboxId });
export const MessageParams = z.object({ id: messageRef });
export const MailboxMessageParams = z.object({ mailboxId, id: messageRef });
export const AttachmentParams = z.object({ id: messageRef, n: attachmentIndex });
export const MailboxAttachmentParams = z.object({ mailboxId, id: messageRef, n: attachmentIndex });

// ---------------------------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------------------------

function limit(bounds: { default: number; max: number }) {
  return readBy((value) => parseLimit(value, bounds))
    .default(bounds.default)
    .openapi({ type: 'integer', minimum: 1, maximum: bounds.max, default: bounds.default });
}

function dateBound(name: 'since' | 'until', description: string) {
  return readBy((value) => parseDateBound(name, value))
    .optional()
    .openapi({ type: 'string', description });
}

export const NoQuery = queryOf({});

/** How /html treats images from other hosts: blocked unless the reader asks for them. */
export const HtmlQuery = queryOf({
  images: readBy((value) => {
    if (value === 'embedded' || value === 'remote') return value;
    throw new ApiError(
      400,
      'INVALID_PARAMETER',
      'images must be "embedded" (the default: only images inside the message) or "remote"',
    );
  })
    .optional()
    .openapi({ type: 'string', enum: ['embedded', 'remote'], default: 'embedded' }),
});

export const MessageListQuery = queryOf({
  since: dateBound(
    'since',
    'Inclusive lower bound: an ISO 8601 date (a UTC day, from its start) or date-time with a zone.',
  ),
  until: dateBound(
    'until',
    'Inclusive upper bound: an ISO 8601 date (a UTC day, to its end) or date-time with a zone.',
  ),
  from: readBy(parseAddress).optional().openapi({
    type: 'string',
    description: 'Sender address (the first From address), case-insensitive, exact.',
    maxLength: MAX_ADDRESS_LENGTH,
  }),
  subject: readBy(parseSubject).optional().openapi({
    type: 'string',
    description: 'Case-insensitive substring of the subject.',
    minLength: 1,
    maxLength: MAX_SUBJECT_LENGTH,
  }),
  hasAttachments: readBy((value) => parseBoolean('hasAttachments', value))
    .optional()
    .openapi({ type: 'string', enum: ['true', 'false'] }),
  limit: limit({ default: DEFAULT_MESSAGE_LIMIT, max: MAX_MESSAGE_LIMIT }),
  cursor: readBy(parseCursor).optional().openapi({
    type: 'string',
    description: 'The `nextCursor` of the previous page, unchanged, with the same filters.',
    maxLength: MAX_CURSOR_LENGTH,
  }),
}).superRefine((query, ctx) => {
  // Both bounds are UTC ISO strings by now, so they compare as text.
  if (query.since !== undefined && query.until !== undefined && query.since > query.until) {
    const error = new ApiError(400, 'INVALID_PARAMETER', 'since is later than until');
    refuse(ctx, error, query);
  }
});

export const ActivityQuery = queryOf({
  days: readBy(parseDays).default(DEFAULT_ACTIVITY_DAYS).openapi({
    type: 'integer',
    minimum: 1,
    maximum: MAX_ACTIVITY_DAYS,
    default: DEFAULT_ACTIVITY_DAYS,
    description: 'How many days, ending today (UTC)',
  }),
});

export const RunListQuery = queryOf({
  limit: limit({ default: DEFAULT_RUN_LIMIT, max: MAX_RUN_LIMIT }),
});

export const MessageIdLookupQuery = queryOf({
  messageId: readBy(
    parseMessageIdQuery,
    'messageId is required: /messages?messageId=<id@example.com>',
  ).openapi({
    type: 'string',
    description: 'Exact Message-ID; the angle brackets are optional.',
    minLength: 1,
    maxLength: MAX_MESSAGE_ID_LENGTH,
  }),
});

export const SearchQueryParams = queryOf({
  q: readBy(parseSearchParam, 'q is required: /search?q=<words>').openapi({
    type: 'string',
    description:
      'The query: words (all must match), "phrases", -negation, from: to: subject: attachment: body:, has:attachment, before:YYYY-MM-DD, after:YYYY-MM-DD, word* (see the README).',
    minLength: 1,
    maxLength: MAX_QUERY_LENGTH,
  }),
  mailbox: readBy(parseMailboxId).optional().openapi({
    type: 'string',
    description: 'Search this mailbox only; without it, every mailbox the caller may read.',
    pattern: MAILBOX_ID_PATTERN,
  }),
  limit: limit({ default: DEFAULT_SEARCH_LIMIT, max: MAX_SEARCH_LIMIT }),
  cursor: readBy(parseCursor).optional().openapi({
    type: 'string',
    description: 'The `nextCursor` of the previous page, unchanged, with the same q and mailbox.',
    maxLength: MAX_CURSOR_LENGTH,
  }),
});
