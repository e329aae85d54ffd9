/** What GET /mailboxes/{mailboxId}/runs answers: the record of each pull run, as a client sees it. */
import { z } from '@hono/zod-openapi';

const isoDateTime = z.iso.datetime();
const count = z.number().int().min(0);

export const RunOutcome = z
  .enum(['success', 'partial', 'retry-later', 'failed'])
  .openapi('RunOutcome');

const RunCounts = z.strictObject({
  listed: count,
  retrieved: count,
  stored: count,
  alreadyStored: count,
  deleted: count,
  skipped: count,
  failed: count,
  octets: count,
  remainingOnServer: count,
});

const RunSession = z
  .strictObject({
    utf8: z.enum(['active', 'refused', 'not-offered']),
    sizeMismatches: count,
    sizesSuspect: z.boolean(),
  })
  .nullable()
  .openapi({
    description:
      'What the POP3 session was like; null when the run never logged in. utf8: RFC 6856 UTF-8 mode (active, refused, not-offered). sizeMismatches: messages whose octets received disagreed with their LIST size; sizesSuspect: so many disagreed that the listing does not describe the mail served.',
  });

export const Run = z
  .strictObject({
    mailboxId: z.string(),
    runId: z.string(),
    startedAt: isoDateTime,
    endedAt: isoDateTime,
    outcome: RunOutcome,
    counts: RunCounts,
    stopReason: z.string().nullable(),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    failures: z.array(
      z.strictObject({ messageKey: z.string(), errorCode: z.string(), message: z.string() }),
    ),
    session: RunSession,
  })
  .openapi('Run');

export const RunList = z.strictObject({ items: z.array(Run) }).openapi('RunList');
