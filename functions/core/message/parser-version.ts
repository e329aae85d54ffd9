/**
 * The version of the reading an index record holds: which parts of a message are attachments and in
 * what order (the query API numbers them so), each one's size and hash, and how every field the
 * parser fills is read. Records carry it so that a later change of the parser can be told apart
 * from what older records say, and the API re-derives an attachment rather than trust a number or a
 * hash another version gave.
 *
 * Raise it with any change under functions/core/message/ that reads some message differently; the
 * differential suite's digest of the scanner's output (test/message/mailparser-differential.test.ts)
 * fails until it is raised.
 *
 * - 0: a record written before versions were recorded (none of its fields says which parser made it).
 * - 1: the streaming scanner held to mailparser 3.14.2 by the differential suite; ISO-2022-JP words
 *   decoded one by one, "-600" zones, dates in years 0000-9999 to the millisecond, an encoded word
 *   never read as address syntax, a display name equal to its address blanked.
 */
export const PARSER_VERSION = 1;

/** What a record written before versions were recorded reads back with. */
export const UNVERSIONED_PARSER = 0;
