/**
 * Strings taken from untrusted mail, made fit for the index record: well-formed UTF-16 and bounded in
 * code units, so that message-limits.ts can bound the JSON of any record.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Lone surrogates become U+FFFD: JSON.stringify would escape them to 6 bytes, and they are not text. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** Cuts to `max` code units without splitting a surrogate pair. */
export function bound(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** A header-ish value for display: no control characters (each would cost 6 bytes of JSON), bounded. */
export function cleanText(text: string, max: number): string {
  return bound(
    wellFormed(text)
      .replace(/\p{Cc}+/gu, ' ')
      .trim(),
    max,
  );
}
