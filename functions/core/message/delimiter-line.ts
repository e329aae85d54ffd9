/**
 * Delimiter lines of a multipart body (RFC 2046 s.5.1.1, read as mailsplit reads them): "--"
 * boundary, optionally "--", optional spaces and tabs, then LF with any CRs before it; at the very
 * end of the input a closing delimiter needs no line break.
 */

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

/**
 * What a delimiter line may carry past its boundary: the closing "--", spaces and tabs, CRs and the
 * LF. mailsplit's bound (RFC 5322 s.2.1.1 allows 998 octets of whitespace on a line), so the line
 * held back between chunks stays bounded by the boundary's length.
 */
const DELIMITER_LINE_SLACK = 2 + 998 + 2;

export type LineMatch =
  | { kind: 'none' }
  | { kind: 'more' }
  | { kind: 'delimiter'; level: number; closing: boolean; end: number };

export const NONE: LineMatch = { kind: 'none' };
const MORE: LineMatch = { kind: 'more' };

/**
 * Whether the line starting at `at` is a delimiter of an open multipart (innermost, the last of
 * `delimiters`, first), is not one, or cannot be told yet because the input ends first.
 */
export function matchLine(
  delimiters: readonly Buffer[],
  data: Buffer,
  at: number,
  eof: boolean,
): LineMatch {
  for (let level = delimiters.length - 1; level >= 0; level--) {
    const match = matchDelimiter(data, at, delimiters[level] as Buffer, eof);
    if (match === 'more') return MORE;
    if (match !== null) return { kind: 'delimiter', level, closing: match.closing, end: match.end };
  }
  return NONE;
}

function matchDelimiter(
  data: Buffer,
  at: number,
  delimiter: Buffer,
  eof: boolean,
): { closing: boolean; end: number } | 'more' | null {
  const n = data.length;
  const available = Math.min(n - at, delimiter.length);
  if (data.compare(delimiter, 0, available, at, at + available) !== 0) return null;
  // More octets than any delimiter line has, and still undecided: no delimiter.
  const limit = Math.min(n, at + delimiter.length + DELIMITER_LINE_SLACK);
  // Out of octets before the line is decided: wait for more, unless there will be none.
  const undecided = eof || limit < n ? null : 'more';
  let i = at + delimiter.length;
  if (i >= limit) return undecided;
  let closing = false;
  if (data[i] === DASH) {
    if (i + 1 >= limit) return undecided;
    if (data[i + 1] !== DASH) return null;
    closing = true;
    i += 2;
  }
  while (i < limit && (data[i] === 0x20 || data[i] === 0x09)) i++;
  if (i === n && eof) return closing ? { closing, end: n } : null;
  let crs = 0;
  while (i < limit && data[i] === CR) {
    i++;
    crs++;
  }
  if (i >= limit) {
    if (i === n && eof && crs > 0) return { closing, end: n };
    return undecided;
  }
  return data[i] === LF ? { closing, end: i + 1 } : null;
}

/** Where the line break before the line at `line` starts, not before `from`. */
export function lineBreakStart(data: Buffer, line: number, from: number): number {
  let start = line;
  if (start > from && data[start - 1] === LF) {
    start--;
    if (start > from && data[start - 1] === CR) start--;
  }
  return start;
}
