/** Full-text search over the mailboxes the caller may read. */
import { createRoute } from '@hono/zod-openapi';
import type { ArchiveReader } from '../../core/archive/ports.js';
import { requireMailbox } from '../access-checks.js';
import { ApiError } from '../errors.js';
import { canRead, type MailboxAccess } from '../mailbox-access.js';
import { searchHitItem } from '../presenters.js';
import type { QueryApi, RouteDeps } from '../query-app-deps.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import { SearchQueryParams } from '../schemas/parameter-schemas.js';
import { SearchPage } from '../schemas/search-schemas.js';

export const searchRoute = createRoute({
  method: 'get',
  path: '/search',
  operationId: 'search',
  summary: 'Messages matching a query, best first',
  description:
    'Searches subject, senders, recipients, attachment names and the text of the body, in every mailbox the caller may read or in the one `mailbox` names. Ranked by relevance (bm25), ties newest first. A bad query is answered 400 INVALID_QUERY with the problem named.',
  tags: ['messages'],
  request: { query: SearchQueryParams },
  responses: {
    200: {
      description: 'One page of hits',
      content: { 'application/json': { schema: SearchPage } },
    },
    ...errorAnswers(400, 404, 501, 503),
  },
});

/**
 * The mailboxes a search may read: the one asked for, checked like every mailbox route (one the
 * caller may not read is "not found"), or every mailbox the caller may read.
 */
async function searchedMailboxes(
  index: ArchiveReader,
  access: MailboxAccess,
  mailbox: string | undefined,
): Promise<string[]> {
  if (mailbox !== undefined) return [await requireMailbox(index, access, mailbox)];
  const mailboxes = await index.listMailboxes();
  return mailboxes.map((summary) => summary.mailboxId).filter((id) => canRead(access, id));
}

export function registerSearchRoutes(app: QueryApi, deps: RouteDeps): void {
  app.openapi(searchRoute, async (c) => {
    const { q, mailbox, limit, cursor } = c.req.valid('query');
    const { search } = deps;
    if (search === undefined) {
      // 501, not 404 or 503: the route exists and the request is fine, but this deployment was
      // built without a search index, and no retry will change that.
      throw new ApiError(
        501,
        'SEARCH_UNAVAILABLE',
        'this deployment has no search index; list messages with /mailboxes/{mailboxId}/messages',
      );
    }
    const access = c.get('access');
    const mailboxIds = await searchedMailboxes(deps.index, access, mailbox);
    const page = await search.search({ mailboxIds, query: q, limit, cursor: cursor ?? null });
    // The index was only asked about readable mailboxes; checked again so no adapter bug can leak.
    const items = page.items.filter((hit) => canRead(access, hit.record.mailboxId));
    return c.json({ items: items.map(searchHitItem), nextCursor: page.cursor }, 200);
  });
}
