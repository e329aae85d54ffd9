import { PopvaultError } from '../errors/popvault-error.js';

/**
 * What a scheduled invocation carries: `{ "mailboxId": "..." }` and nothing else.
 *
 * Anyone allowed to invoke a puller function or edit its schedule controls the event, so the event
 * must not be able to choose the server, its CA, the secret or the archive: those are fixed at synth
 * in the function's own configuration (functions/core/settings/mailbox-settings.ts). The id must be the one
 * mailbox this function serves; it is checked only so that a mis-wired schedule or a hand-made
 * invocation is refused loudly instead of silently pulling another mailbox than the caller meant.
 */
export interface ScheduledEvent {
  mailboxId: string;
}

export class ScheduledEventError extends PopvaultError {
  override name = 'ScheduledEventError';
  declare readonly code: 'INVALID_EVENT';

  constructor(message: string) {
    super('INVALID_EVENT', message);
  }
}

/** Longest id echoed back in an error: the rest is the caller's text, not ours. */
const ECHO_LIMIT = 64;

function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text);
}

/**
 * Accepts exactly `{ "mailboxId": <expected> }`. Every other field is refused by name only (never
 * its value: a forged event may carry a password), so nothing an event says reaches a connection.
 */
export function parseScheduledEvent(event: unknown, expectedMailboxId: string): ScheduledEvent {
  const fix = `send exactly {"mailboxId":"${expectedMailboxId}"}; this function's server, secret and limits come from the stack's config`;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new ScheduledEventError(`the event must be a JSON object; ${fix}`);
  }
  const input = event as Record<string, unknown>;
  const extra = Object.keys(input).filter((key) => key !== 'mailboxId');
  if (extra.length > 0) {
    const names = extra
      .slice(0, 10)
      .map((key) => shown(key))
      .join(', ');
    throw new ScheduledEventError(
      `the event carries ${extra.length === 1 ? 'a field' : 'fields'} the puller does not take (${names}${extra.length > 10 ? ', …' : ''}); ${fix}`,
    );
  }
  const { mailboxId } = input;
  if (mailboxId !== expectedMailboxId) {
    throw new ScheduledEventError(
      `the event names mailbox ${shown(mailboxId)}, but this function pulls only mailbox "${expectedMailboxId}"; invoke that mailbox's own puller function, or ${fix}`,
    );
  }
  return { mailboxId: expectedMailboxId };
}
