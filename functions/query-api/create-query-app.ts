/**
 * The query API: read-only JSON over the archive ports, plus the raw message and its attachments.
 * Each route is declared once (routes/), with its parameters and answers as zod schemas (schemas/):
 * the validation, the response types and the OpenAPI document all come from those declarations.
 *
 * Mail is hostile content served from our origin, so every response is `no-store` and `nosniff`, and
 * message bytes are only ever offered as downloads (download-headers.ts).
 */

import { randomUUID } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bearerAuth } from './bearer-auth.js';
import { ApiError, type ApiLogger, errorResponse } from './errors.js';
import { ALL_MAILBOXES } from './mailbox-access.js';
import type { AppEnv, QueryApi, QueryAppDeps, RouteDeps } from './query-app-deps.js';
import { registerActivityRoutes } from './routes/activity-routes.js';
import { registerDownloadRoutes } from './routes/download-routes.js';
import { registerHtmlRoutes } from './routes/html-routes.js';
import { registerMailboxRoutes } from './routes/mailbox-routes.js';
import { registerMessageRoutes } from './routes/message-routes.js';
import { registerOpenApiRoute } from './routes/openapi-route.js';
import { registerSearchRoutes } from './routes/search-routes.js';
import { registerTextRoutes } from './routes/text-routes.js';
import { validationHook } from './validation-hook.js';

export type { QueryAppDeps } from './query-app-deps.js';

const consoleLogger: ApiLogger = {
  warn: (message, attributes) => console.warn(JSON.stringify({ message, ...attributes })),
  error: (message, attributes) => console.error(JSON.stringify({ message, ...attributes })),
};

/** Request id, caller authentication and the caller's grant: settled before any route runs. */
function useMiddleware(app: QueryApi, deps: QueryAppDeps): void {
  app.use('*', async (c, next) => {
    c.set('requestId', deps.requestId?.(c) ?? randomUUID());
    await next();
    // Set after the route, on every response including errors and redirects: mail (and the presigned
    // link to it) must not stay in shared or browser caches.
    c.res.headers.set('Cache-Control', 'no-store');
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
    c.res.headers.set('X-Request-Id', c.get('requestId'));
  });
  if (deps.auth) app.use('*', bearerAuth(deps.auth.bearerToken));
  // After authentication, before any route: a token the app cannot read is refused here, for every
  // path, and every route reads the answer from the context.
  app.use('*', async (c, next) => {
    c.set('access', deps.access ? deps.access(c) : ALL_MAILBOXES);
    await next();
  });
}

/** The paths of the routes declared on `app`, in Hono's syntax. */
function declaredPaths(app: QueryApi): string[] {
  const paths = app.openAPIRegistry.definitions.flatMap((definition) =>
    definition.type === 'route' ? [definition.route.path.replace(/\{([^}]+)\}/g, ':$1')] : [],
  );
  return [...new Set(paths)];
}

export function createQueryApp(deps: QueryAppDeps): QueryApi {
  const logger = deps.logger ?? consoleLogger;
  const routeDeps: RouteDeps = {
    index: deps.index,
    store: deps.store,
    search: deps.search,
    rawLink: deps.rawLink,
    logger,
    maxBodyOctets: deps.maxBodyOctets ?? Number.POSITIVE_INFINITY,
    now: deps.now ?? Date.now,
  };
  const app: QueryApi = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  useMiddleware(app, deps);

  registerOpenApiRoute(app);
  registerMailboxRoutes(app, routeDeps);
  registerActivityRoutes(app, routeDeps);
  registerMessageRoutes(app, routeDeps);
  registerDownloadRoutes(app, routeDeps);
  registerTextRoutes(app, routeDeps);
  registerHtmlRoutes(app, routeDeps);
  registerSearchRoutes(app, routeDeps);

  // Every path answers other methods with 405, not 404: the resource exists, the method does not.
  for (const path of declaredPaths(app)) {
    app.all(path, (c) => {
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${c.req.method} is not allowed; use GET`, {
        headers: { Allow: 'GET, HEAD' },
      });
    });
  }

  app.notFound((c) =>
    errorResponse(new ApiError(404, 'ROUTE_NOT_FOUND', 'no such route; see /openapi.json'), c, {
      requestId: c.get('requestId'),
      logger,
    }),
  );
  app.onError((error, c) => errorResponse(error, c, { requestId: c.get('requestId'), logger }));
  return app;
}

export type QueryApp = ReturnType<typeof createQueryApp>;
