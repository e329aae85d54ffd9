/** GET /mailboxes/{mailboxId}/activity: messages archived per day, every day of the span filled in. */
import { createRoute } from '@hono/zod-openapi';
import type { DayCount } from '../../core/archive/ports.js';
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

/** Every day from `days - 1` days before today to today, with the counts found, 0 elsewhere. */
export function fillDays(counts: readonly DayCount[], days: number, now: number): DayCount[] {
  const found = new Map(counts.map((c) => [c.day, c.messages]));
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(today - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10);
    return { day, messages: found.get(day) ?? 0 };
  });
}

export function registerActivityRoutes(app: QueryApi, deps: RouteDeps): void {
  const { index, now } = deps;
  app.openapi(activityRoute, async (c) => {
    const { days } = c.req.valid('query');
    const mailboxId = await requireMailbox(index, c.get('access'), c.req.valid('param').mailboxId);
    const at = now();
    const since = new Date((Math.floor(at / DAY_MS) - (days - 1)) * DAY_MS).toISOString();
    const counts = await index.archivedPerDay(mailboxId, since.slice(0, 10));
    return c.json({ days: fillDays(counts, days, at) }, 200);
  });
}
