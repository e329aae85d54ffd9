/**
 * The checks every route makes before it reads mail: the caller's grant first, then the index. A
 * mailbox or message the caller may not read gets the same answer as one that does not exist
 * (errors.ts says why).
 */
import type { ArchiveReader, MessageRecord } from '../core/archive/ports.js';
import { mailboxNotFound, messageNotFound } from './errors.js';
import { canRead, type MailboxAccess } from './mailbox-access.js';
import type { MessageRef } from './params.js';

/** The path's mailbox, checked against the caller's grant before the index is asked about it. */
export async function requireMailbox(
  index: ArchiveReader,
  access: MailboxAccess,
  mailboxId: string,
): Promise<string> {
  if (!canRead(access, mailboxId) || (await index.getMailbox(mailboxId)) === null) {
    throw mailboxNotFound(mailboxId);
  }
  return mailboxId;
}

/**
 * The message the path's id names. On the mailbox-scoped routes the id must name a message of the
 * path's mailbox: otherwise a caller granted /mailboxes/A/* by IAM could read B's mail with B's id.
 */
/** The path of a message route: its id, and its mailbox when the path names one. */
export type MessagePath = { mailboxId?: string; id: MessageRef };

export async function requireMessage(
  index: ArchiveReader,
  access: MailboxAccess,
  path: MessagePath,
): Promise<MessageRecord> {
  const ref = path.id;
  if (
    (path.mailboxId !== undefined && ref.mailboxId !== path.mailboxId) ||
    !canRead(access, ref.mailboxId)
  ) {
    throw messageNotFound();
  }
  const record = await index.getMessage(ref.mailboxId, ref.messageKey);
  if (record === null) throw messageNotFound();
  return record;
}
