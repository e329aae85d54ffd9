/** GET /mailboxes/{mailboxId}/activity: messages archived per day, every day of the span filled in. */
import { createRoute } from '@hono/zod-openapi';
import { requireMailbox } from '../access-checks.js';
import type { QueryApi, RouteDeps } from '../query-app-deps.js';
import { Activity } from '../schemas/activity-schemas.js';
import { errorAnswers } from '../schemas/error-schemas.js';
import { ActivityQuery, MailboxParams } from '../schemas/parameter-schemas.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export const activityRoute = createRoute({
  method: 'get',
  path: '/mailboxes/{mailboxId}/activity',
  operationId: 'mailboxActivity',
  summary: 'Messages archived per day (UTC), for the last `days` days up to today',
  description:
    'Counted as messages are archived (each message once, by the time popvault stored it, not its Date header). Mail archived in AWS before this count existed is not in it.',
  tags: ['mailboxes'],
  request: { params: MailboxParams, query: ActivityQuery },
  responses: {
    200: {
      description: 'One entry per day',
      content: { 'application/json': { schema: Activity } },
    },
    ...errorAnswers(400, 404, 503),
  },
});

/** The UTC days of the span, oldest first, ending today. */
export function daySpan(days: number, now: number): string[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return Array.from({ length: days }, (_, i) =>
    new Date(today - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10),
  );
}

export function registerActivityRoutes(app: QueryApi, deps: RouteDeps): void {
  const { index, now } = deps;
  app.openapi(activityRoute, async (c) => {
    const { days } = c.req.valid('query');
    const mailboxId = await requireMailbox(index, c.get('access'), c.req.valid('param').mailboxId);
    const span = daySpan(days, now());
    const found = new Map(
      (await index.archivedPerDay(mailboxId, span[0] as string)).map((count) => [
        count.day,
        count.messages,
      ]),
    );
    return c.json({ days: span.map((day) => ({ day, messages: found.get(day) ?? 0 })) }, 200);
  });
}
