/** The routes that answer a message's metadata: by Message-ID header, and by this API's id. */
import { createRoute } from '@hono/zod-openapi';
import type { MessageRecord } from '../../core/archive/ports.js';
import { requireMessage } from '../access-checks.js';
import { canRead } from '../mailbox-access.js';
import { listItem, messageDetail } from '../presenters.js';
import type { QueryApi, RouteDeps } from '../query-app-deps.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import { MessageDetail, MessageIdMatches } from '../schemas/message-schemas.js';
import {
  MailboxMessageParams,
  MessageIdLookupQuery,
  MessageParams,
  NoQuery,
} from '../schemas/parameter-schemas.js';

/**
 * Records a Message-ID lookup returns. One message is normally archived in one or a few mailboxes;
 * more copies are forgeries or list duplicates, and the response must stay bounded whatever the index
 * holds.
 */
export const MAX_MESSAGE_ID_MATCHES = 50;

export const findByMessageIdRoute = createRoute({
  method: 'get',
  path: '/messages',
  operationId: 'findByMessageId',
  summary: 'Messages with a Message-ID header, in any mailbox',
  tags: ['messages'],
  request: { query: MessageIdLookupQuery },
  responses: {
    200: {
      description: 'The matching messages, newest first',
      content: { 'application/json': { schema: MessageIdMatches } },
    },
    ...errorAnswers(400, 503),
  },
});

const getMessage = {
  method: 'get' as const,
  summary: "A message's metadata, attachment list and snippet",
  tags: ['messages'],
  responses: {
    200: { description: 'The message', content: { 'application/json': { schema: MessageDetail } } },
    ...errorAnswers(400, 404, 503),
  },
};

export const getMessageRoute = createRoute({
  ...getMessage,
  path: '/messages/{id}',
  operationId: 'getMessage',
  request: { query: NoQuery, params: MessageParams },
});

/**
 * The same with the mailbox in the path, so that an IAM policy can grant one mailbox's messages
 * (".../GET/mailboxes/work/*"); /messages/{id} names no mailbox, so an IAM grant of it is a grant of
 * the whole archive. The id must name a message of that mailbox.
 */
export const getMessageInMailboxRoute = createRoute({
  ...getMessage,
  path: '/mailboxes/{mailboxId}/messages/{id}',
  operationId: 'getMessageInMailbox',
  summary: `${getMessage.summary}, in one mailbox`,
  request: { query: NoQuery, params: MailboxMessageParams },
});

/** Newest first; the mailbox and key only break ties, so the order is the same on every call. */
function newestFirst(a: MessageRecord, b: MessageRecord): number {
  const sortDate = (r: MessageRecord) => r.date ?? r.archivedAt;
  return (
    sortDate(b).localeCompare(sortDate(a)) ||
    a.mailboxId.localeCompare(b.mailboxId) ||
    a.messageKey.localeCompare(b.messageKey)
  );
}

export function registerMessageRoutes(app: QueryApi, deps: RouteDeps): void {
  const { index } = deps;

  app.openapi(findByMessageIdRoute, async (c) => {
    const access = c.get('access');
    // Filtered before the cap, so `truncated` and the items say nothing of mailboxes not granted.
    const records = (await index.findByMessageId(c.req.valid('query').messageId)).filter((record) =>
      canRead(access, record.mailboxId),
    );
    records.sort(newestFirst);
    const items = records.slice(0, MAX_MESSAGE_ID_MATCHES).map(listItem);
    return c.json({ items, truncated: records.length > MAX_MESSAGE_ID_MATCHES }, 200);
  });

  app.openapi(getMessageRoute, async (c) => {
    const record = await requireMessage(index, c.get('access'), c.req.valid('param'));
    return c.json(messageDetail(record), 200);
  });

  app.openapi(getMessageInMailboxRoute, async (c) => {
    const record = await requireMessage(index, c.get('access'), c.req.valid('param'));
    return c.json(messageDetail(record), 200);
  });
}
