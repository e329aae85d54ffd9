/**
 * A message's readable text, for the viewer and any client that shows mail: read from the stored
 * raw message by the same parser the pull uses, so it is what search found the message by. Plain
 * text only; an HTML part is reduced to its text here, never served as HTML.
 */
import { pipeline } from 'node:stream/promises';
import { createRoute } from '@hono/zod-openapi';
import { createMessageParser } from '../../core/message/message-parser.js';
import { requireMessage } from '../access-checks.js';
import type { QueryApi, RouteDeps } from '../query-app-deps.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import { MailboxMessageParams, MessageParams, NoQuery } from '../schemas/parameter-schemas.js';
import { MessageTextBody } from '../schemas/text-schemas.js';

const getText = {
  method: 'get' as const,
  summary: "A message's text",
  tags: ['messages'],
  responses: {
    200: {
      description: 'The text, decoded and bounded',
      content: { 'application/json': { schema: MessageTextBody } },
    },
    ...errorAnswers(400, 404, 503),
  },
};

export const getTextRoute = createRoute({
  ...getText,
  path: '/messages/{id}/text',
  operationId: 'getMessageText',
  request: { query: NoQuery, params: MessageParams },
});

export const getTextInMailboxRoute = createRoute({
  ...getText,
  path: '/mailboxes/{mailboxId}/messages/{id}/text',
  operationId: 'getMessageTextInMailbox',
  summary: `${getText.summary}, in one mailbox`,
  request: { query: NoQuery, params: MailboxMessageParams },
});

async function readText(deps: RouteDeps, rawKey: string) {
  const parser = createMessageParser();
  // The parser never errors and settles once its sink has ended; a failing store read rejects here.
  await pipeline(await deps.store.get(rawKey), parser.sink);
  const { body, truncated } = await parser.text;
  return { text: body, truncated };
}

export function registerTextRoutes(app: QueryApi, deps: RouteDeps): void {
  app.openapi(getTextRoute, async (c) => {
    const record = await requireMessage(deps.index, c.get('access'), c.req.valid('param'));
    return c.json(await readText(deps, record.rawKey), 200);
  });
  app.openapi(getTextInMailboxRoute, async (c) => {
    const record = await requireMessage(deps.index, c.get('access'), c.req.valid('param'));
    return c.json(await readText(deps, record.rawKey), 200);
  });
}
