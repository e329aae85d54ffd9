/** What GET /mailboxes answers: each mailbox with its counts and how its latest run went. */
import { z } from '@hono/zod-openapi';
import { RunOutcome } from './run-schemas.js';

const isoDateTime = z.iso.datetime();

export const Mailbox = z
  .strictObject({
    mailboxId: z.string(),
    messages: z.number().int().min(0).openapi({ description: 'Messages archived' }),
    octets: z.number().int().min(0).openapi({ description: 'Raw octets archived' }),
    lastRun: z
      .strictObject({
        runId: z.string(),
        outcome: RunOutcome,
        endedAt: isoDateTime,
        errorCode: z.string().nullable(),
        errorMessage: z.string().nullable(),
      })
      .nullable(),
    lastSuccessAt: isoDateTime
      .nullable()
      .openapi({ description: 'End of the last successful run' }),
    lastError: z
      .strictObject({
        code: z.string(),
        message: z.string().nullable(),
        runId: z.string(),
        at: isoDateTime,
      })
      .nullable()
      .openapi({ description: "The latest run's error; null once a run ends cleanly." }),
  })
  .openapi('Mailbox');

export const MailboxList = z.strictObject({ items: z.array(Mailbox) }).openapi('MailboxList');
