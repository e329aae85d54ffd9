/**
 * Which mailboxes one request may read. Every route of the app asks this before it touches the index
 * for a mailbox, and filters what spans mailboxes (the mailbox list, a Message-ID lookup) through it.
 *
 * - Local serving (`popvault serve`, bearer token): the archive's owner, every mailbox.
 * - AWS with IAM: every mailbox as far as the app is concerned; the caller's IAM policy decides by
 *   path (the mailbox-scoped routes carry the mailbox id, see infra/constructs/query-api.ts).
 * - AWS with JWT: the mailboxes the token's claim names (jwt-access.ts).
 */
export type MailboxAccess =
  | { readonly kind: 'all' }
  | { readonly kind: 'only'; readonly mailboxes: ReadonlySet<string> };

export const ALL_MAILBOXES: MailboxAccess = { kind: 'all' };

export function onlyMailboxes(mailboxes: Iterable<string>): MailboxAccess {
  return { kind: 'only', mailboxes: new Set(mailboxes) };
}

export function canRead(access: MailboxAccess, mailboxId: string): boolean {
  return access.kind === 'all' || access.mailboxes.has(mailboxId);
}
