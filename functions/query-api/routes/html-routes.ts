/**
 * A message's HTML part, for display in a sandboxed frame. Mail HTML is hostile: the answer carries
 * a Content-Security-Policy that sandboxes it (no script, no form, an origin of its own) and lets it
 * load nothing from anywhere; images inside the message are inlined as data: URLs in place of their
 * cid: references, and images from other hosts load only when the reader asks (images=remote), since
 * each of them tells the sender that, when and where the message was read.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { type HtmlBody, readHtmlBody } from '../../core/message/html-body-reader.js';
import { type MessagePath, requireMessage } from '../access-checks.js';
import { ApiError } from '../errors.js';
import type { MailboxAccess } from '../mailbox-access.js';
import type { QueryApi, RouteDeps } from '../query-app-deps.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import { HtmlQuery, MailboxMessageParams, MessageParams } from '../schemas/parameter-schemas.js';

const SAFE_IMAGE_TYPE = /^image\/[a-z0-9.+-]{1,64}$/;

export function htmlPolicy(remoteImages: boolean): string {
  const images = remoteImages ? 'data: https: http:' : 'data:';
  return `default-src 'none'; img-src ${images}; style-src 'unsafe-inline'; font-src data:; sandbox allow-popups allow-popups-to-escape-sandbox`;
}

/** cid: references to images the message carries become data: URLs; others stay (and stay blocked). */
export function inlineImages(body: HtmlBody): string {
  return body.html.replace(/cid:([^"'\s)>]+)/gi, (reference, id: string) => {
    let key = id;
    try {
      key = decodeURIComponent(id);
    } catch {}
    const image = body.images.get(key) ?? body.images.get(id);
    if (image === undefined || !SAFE_IMAGE_TYPE.test(image.contentType)) return reference;
    return `data:${image.contentType};base64,${image.data.toString('base64')}`;
  });
}

/** Links open outside the frame, and tell no site where they were followed from. */
const HEAD =
  '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><base target="_blank">';

const getHtml = {
  method: 'get' as const,
  summary: "A message's HTML part, sandboxed",
  tags: ['messages'],
  responses: {
    200: {
      description: 'The HTML, with a sandboxing Content-Security-Policy',
      content: { 'text/html': { schema: z.string() } },
    },
    ...errorAnswers(400, 404, 503),
  },
};

export const getHtmlRoute = createRoute({
  ...getHtml,
  path: '/messages/{id}/html',
  operationId: 'getMessageHtml',
  request: { query: HtmlQuery, params: MessageParams },
});

export const getHtmlInMailboxRoute = createRoute({
  ...getHtml,
  path: '/mailboxes/{mailboxId}/messages/{id}/html',
  operationId: 'getMessageHtmlInMailbox',
  summary: `${getHtml.summary}, in one mailbox`,
  request: { query: HtmlQuery, params: MailboxMessageParams },
});

async function sendHtml(
  deps: RouteDeps,
  access: MailboxAccess,
  path: MessagePath,
  remote: boolean,
): Promise<Response> {
  const record = await requireMessage(deps.index, access, path);
  const body = await readHtmlBody(await deps.store.get(record.rawKey));
  if (body === null) {
    throw new ApiError(
      404,
      'HTML_NOT_FOUND',
      'the message has no HTML part; read its text at /text',
    );
  }
  return new Response(`${HEAD}${inlineImages(body)}`, {
    status: 200,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': htmlPolicy(remote),
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'SAMEORIGIN',
    },
  });
}

export function registerHtmlRoutes(app: QueryApi, deps: RouteDeps): void {
  app.openapi(getHtmlRoute, async (c) =>
    sendHtml(deps, c.get('access'), c.req.valid('param'), c.req.valid('query').images === 'remote'),
  );
  app.openapi(getHtmlInMailboxRoute, async (c) =>
    sendHtml(deps, c.get('access'), c.req.valid('param'), c.req.valid('query').images === 'remote'),
  );
}
