/** The routes about mailboxes: the list of them, one mailbox's messages, and its pull runs. */
import { createRoute } from '@hono/zod-openapi';
import type { ListMessagesQuery, MessagePage } from '../../core/archive/ports.js';
import { requireMailbox } from '../access-checks.js';
import { canRead } from '../mailbox-access.js';
import { listItem, mailboxItem, runItem } from '../presenters.js';
import type { QueryApi, RouteDeps } from '../query-app-deps.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import { MailboxList } from '../schemas/mailbox-schemas.js';
import { MessagePage as MessagePageSchema } from '../schemas/message-schemas.js';
import {
  MailboxParams,
  MessageListQuery,
  NoQuery,
  RunListQuery,
} from '../schemas/parameter-schemas.js';
import { RunList } from '../schemas/run-schemas.js';

export const listMailboxesRoute = createRoute({
  method: 'get',
  path: '/mailboxes',
  operationId: 'listMailboxes',
  summary: 'Every mailbox with its counts and latest run',
  tags: ['mailboxes'],
  request: { query: NoQuery },
  responses: {
    200: {
      description: 'The mailboxes, by id',
      content: { 'application/json': { schema: MailboxList } },
    },
    ...errorAnswers(400, 503),
  },
});

export const listMessagesRoute = createRoute({
  method: 'get',
  path: '/mailboxes/{mailboxId}/messages',
  operationId: 'listMessages',
  summary: "A mailbox's messages, newest first",
  description:
    'Read from the index by date (or by sender with `from`), never a scan. Filters apply while the index is read, so a page may hold fewer than `limit` items and still have a `nextCursor`; keep following it until it is null. Messages whose Date header did not parse are ordered by archive time.',
  tags: ['messages'],
  request: { params: MailboxParams, query: MessageListQuery },
  responses: {
    200: {
      description: 'One page',
      content: { 'application/json': { schema: MessagePageSchema } },
    },
    ...errorAnswers(400, 404, 503),
  },
});

export const listRunsRoute = createRoute({
  method: 'get',
  path: '/mailboxes/{mailboxId}/runs',
  operationId: 'listRuns',
  summary: "A mailbox's recent pull runs, most recent first",
  tags: ['mailboxes'],
  request: { params: MailboxParams, query: RunListQuery },
  responses: {
    200: { description: 'The runs', content: { 'application/json': { schema: RunList } } },
    ...errorAnswers(400, 404, 503),
  },
});

export function registerMailboxRoutes(app: QueryApi, deps: RouteDeps): void {
  const { index } = deps;

  app.openapi(listMailboxesRoute, async (c) => {
    const access = c.get('access');
    const mailboxes = await index.listMailboxes();
    const visible = mailboxes.filter((mailbox) => canRead(access, mailbox.mailboxId));
    return c.json({ items: visible.map(mailboxItem) }, 200);
  });

  app.openapi(listMessagesRoute, async (c) => {
    const { since, until, subject, hasAttachments, from, limit, cursor } = c.req.valid('query');
    const mailboxId = await requireMailbox(index, c.get('access'), c.req.valid('param').mailboxId);
    // Only the filters given, so the index sees exactly what the client asked for.
    const query: ListMessagesQuery = { limit, cursor: cursor ?? null };
    if (since !== undefined) query.since = since;
    if (until !== undefined) query.until = until;
    if (subject !== undefined) query.subject = subject;
    if (hasAttachments !== undefined) query.hasAttachments = hasAttachments;
    // One index call per request: with filters the adapter already reads a bounded number of index
    // pages to fill the page, and returns a short page with a cursor past that. Looping here as well
    // would multiply that bound, and with it the cost and latency of one request.
    const page: MessagePage =
      from === undefined
        ? await index.listMessages(mailboxId, query)
        : await index.listBySender(mailboxId, from, query);
    return c.json({ items: page.items.map(listItem), nextCursor: page.cursor }, 200);
  });

  app.openapi(listRunsRoute, async (c) => {
    const { limit } = c.req.valid('query');
    const mailboxId = await requireMailbox(index, c.get('access'), c.req.valid('param').mailboxId);
    const runs = await index.listRuns(mailboxId, limit);
    return c.json({ items: runs.map(runItem) }, 200);
  });
}
