/**
 * Whether the size a server listed for a message (LIST, RFC 1939 s.5) agrees with the octets RETR
 * served. A server that substitutes something else for the message (Courier POP3 serving a generated
 * "Cannot display Unicode content" notice to a client that did not send UTF8, RFC 6856 s.3) or that
 * lists one size and sends another (a hostile or broken server) shows up here, after the fact, as a
 * count on the run record; the size limit itself is enforced while receiving, not from LIST.
 *
 * Exact agreement is not required, because RFC 1939 s.11 warns that "the octet count for a message
 * on the server host may differ from the octet count assigned to that message due to local
 * conventions for designating end-of-line". Measured on the four servers the suite runs:
 * - Dovecot 2.3.19 and Courier POP3 1.0.16 list exactly the octets served, except that a message
 *   not ending in a line end is served with CRLF appended and listed without it (2 octets short);
 * - Cyrus 3.6.1 the same (2 octets short for a message without a final line end);
 * - GNU Mailutils pop3d 3.15 counts each line end of an LF-stored message as one octet and serves
 *   it as CRLF: the listing is short by exactly the number of lines.
 * So a listing counts as agreeing when it lies between "every line end counted as one octet, final
 * CRLF not counted" and "exact, or one octet per line more" (a server that stores CRLF and counts
 * CR CR LF); anything outside that band is a mismatch.
 */

/** The CRLF a server appends to a message that does not end in a line end (RFC 1939 s.3). */
export const LISTED_SIZE_APPENDED_CRLF_OCTETS = 2;

/**
 * A run is flagged as having unreliable sizes once at least this share of the messages it retrieved
 * mismatched (and at least one did). One odd size in thousands is logged and counted; one in twenty
 * means the listing does not describe the mail the server serves.
 */
export const LISTED_SIZE_SUSPECT_SHARE = 0.05;

export function listedSizeAgrees(listed: number, received: number, lineEnds: number): boolean {
  const lowest = received - lineEnds - LISTED_SIZE_APPENDED_CRLF_OCTETS;
  const highest = received + lineEnds;
  return listed >= lowest && listed <= highest;
}

export function listedSizesSuspect(mismatches: number, retrieved: number): boolean {
  return mismatches > 0 && mismatches >= retrieved * LISTED_SIZE_SUSPECT_SHARE;
}
