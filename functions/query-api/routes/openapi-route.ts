/**
 * GET /openapi.json: the OpenAPI 3.1 document, generated from the route declarations the app was
 * built from, so it cannot describe a route, parameter or answer the app does not have.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { QueryApi } from '../query-app-deps.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import { NoQuery } from '../schemas/parameter-schemas.js';

export const OPENAPI_PATH = '/openapi.json';

export const openApiRoute = createRoute({
  method: 'get',
  path: OPENAPI_PATH,
  operationId: 'getOpenApi',
  summary: 'This document',
  tags: ['meta'],
  request: { query: NoQuery },
  responses: {
    200: {
      description: 'The OpenAPI 3.1 document',
      content: {
        'application/json': {
          schema: z.record(z.string(), z.unknown()).openapi({ type: 'object' }),
        },
      },
    },
    ...errorAnswers(400),
  },
});

const DOCUMENT: Parameters<QueryApi['getOpenAPI31Document']>[0] = {
  openapi: '3.1.0',
  info: {
    title: 'popvault query API',
    version: '1.0.0',
    description:
      'Read-only access to archived POP3 mail. Served locally it requires a bearer token and serves every mailbox. In AWS, API Gateway authenticates (IAM or JWT). With IAM, the caller\'s policy grants paths: `/mailboxes/{mailboxId}/...` names one mailbox, while `/mailboxes`, `/messages` and `/messages/{id}/...` span the archive. With JWT, the token\'s mailboxes claim names the mailboxes it may read, on every route; a mailbox or message outside it is answered exactly like one that does not exist (404). Every response is `Cache-Control: no-store`. Errors are `{ "error": { "code", "message" } }`, with a `requestId` on 5xx.',
  },
  // Bearer for local serving; none of its own in AWS, where API Gateway's authorizer applies.
  security: [{ bearerAuth: [] }, {}],
};

/**
 * Serves the document of every route declared on `app` (those declared after this call too: the
 * document is generated at the first request, once, and kept).
 */
export function registerOpenApiRoute(app: QueryApi): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'Local serving only: the token `popvault serve` prints and keeps in the archive.',
  });
  let document: ReturnType<QueryApi['getOpenAPI31Document']> | undefined;
  app.openapi(openApiRoute, (c) => {
    document ??= app.getOpenAPI31Document(DOCUMENT);
    return c.json(document, 200);
  });
}
