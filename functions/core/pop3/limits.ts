/**
 * Limits on what a POP3 peer may send or be sent, each with the rule that sets it. Message data has no
 * line limit at all: real mail carries multi-megabyte lines, and RETR bodies are streamed, never split
 * into lines.
 */

/** A status line, CRLF included (RFC 2449 s.4: "responses ... MUST NOT exceed 512 octets"). */
export const MAX_STATUS_LINE_OCTETS = 512;

/** A command line, CRLF included (RFC 2449 s.4: "commands ... MUST NOT exceed 255 octets"). */
export const MAX_COMMAND_LINE_OCTETS = 255;

/**
 * A SASL continuation line ("+ base64"). RFC 5034 s.4 lifts the 512-octet response limit for AUTH
 * exchanges; 16 KiB is far above any challenge seen (XOAUTH2 error JSON is ~150 octets) while still
 * stopping a hostile server from making us buffer without bound.
 */
export const MAX_SASL_LINE_OCTETS = 16 * 1024;

/**
 * Entries of a LIST or UIDL listing that are parsed and kept; the rest are read, counted and
 * dropped. Parsing is what costs: 3 million entries once took 1.75 GB of memory and over two
 * minutes, more than a puller has. A run retrieves at most tens of thousands of messages in a
 * Lambda's 15 minutes (BENCHMARKS.md: about 600 a second at best), so 100,000 leaves room and keeps
 * a listing's entries to a few tens of MB; a larger mailbox is worked off from its start, run by run.
 */
export const MAX_LISTING_ENTRIES = 100_000;

/**
 * One line of a listing. A UIDL line is a message number, a space and at most MAX_UIDL_OCTETS of
 * id; a LIST line may carry extra information after the size (RFC 1939 s.5). Longer is malformed.
 */
export const MAX_LISTING_LINE_OCTETS = 1024;

/** Malformed listing lines kept (bounded, for the run record); all of them are counted. */
export const MAX_MALFORMED_LINES_KEPT = 20;

/** A unique-id is 1-70 octets in 0x21-0x7E (RFC 1939 s.7); longer ones are accepted (see uidl parsing). */
export const RFC_MAX_UIDL_OCTETS = 70;

/**
 * The longest UIDL accepted at all. Real servers exceed RFC 1939's 70 octets (mpop accepts any
 * non-control bytes); 512 is the status-line bound a single "n uid" line can reasonably reach.
 */
export const MAX_UIDL_OCTETS = 500;

/** Bytes read from the socket and not yet consumed before the socket is paused (TCP backpressure). */
export const READ_HIGH_WATER_OCTETS = 1024 * 1024;

/** Default bound on pipelined commands in flight (RFC 2449 s.6.6 leaves the bound to the client). */
export const DEFAULT_PIPELINE_WINDOW = 64;

/** Default timeouts in milliseconds. The autologout timer is at least 10 minutes (RFC 1939 s.3). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_GREETING_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
