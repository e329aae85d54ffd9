/**
 * The one rule for mailbox ids, shared by the stack config, the scheduled event, the CLI and the API:
 * an id becomes part of keys, directory names, metric dimensions and URLs, so it stays plain.
 */
export const MAILBOX_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const MAILBOX_ID = new RegExp(MAILBOX_ID_PATTERN);
