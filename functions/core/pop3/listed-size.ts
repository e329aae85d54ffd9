/**
 * Whether the size a server listed for a message (LIST, RFC 1939 s.5) agrees with the octets RETR
 * served. A server that substitutes something else for the message (Courier POP3 serving a generated
 * "Cannot display Unicode content" notice to a client that did not send UTF8, RFC 6856 s.3) or that
 * lists one size and sends another (a hostile or broken server) shows up here, after the fact, as a
 * count on the run record; the size limit itself is enforced while receiving, not from LIST.
 *
 * Exact agreement is not required, because RFC 1939 s.11 warns that "the octet count for a message
 * on the server host may differ from the octet count assigned to that message due to local
 * conventions for designating end-of-line", and mpop's manual says LIST sizes are only approximate
 * on some servers. Measured on the four servers the suite runs (bench section 7, the conformance
 * suite): Dovecot 2.3.19, Courier POP3 1.0.16, Cyrus 3.6.1 and GNU Mailutils pop3d 3.15 all list
 * exactly the octets they serve, CRLF counted, except that a message not ending in a line end is
 * served with CRLF appended and listed without it (2 octets short). Mailutils lists a message
 * 55-57 octets short in the session that first assigns its UIDL, because it adds an X-UIDL header
 * at that UIDL command; the pull run asks for UIDL before LIST, so it never sees that.
 * A listing counts as agreeing when it lies between "every line end counted as one octet, the
 * appended CRLF not counted" (a server that stores LF and counts it, as RFC 1939 s.11 foresees) and
 * "one octet per line more" (a server that stores CRLF and counts CR CR LF); a substitute or a
 * lying listing falls far outside that band.
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
