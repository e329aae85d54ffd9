/** What GET /mailboxes/{mailboxId}/activity answers: messages archived per day, for a chart. */
import { z } from '@hono/zod-openapi';

export const Activity = z
  .strictObject({
    days: z
      .array(
        z.strictObject({
          day: z.iso.date().openapi({ description: 'A UTC day, YYYY-MM-DD' }),
          messages: z.number().int().min(0),
        }),
      )
      .openapi({ description: 'Every day asked for, oldest first, days without mail as 0' }),
  })
  .openapi('Activity');
