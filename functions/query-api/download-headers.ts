/**
 * How a download is labelled. Mail is hostile content served from our origin, so message bytes are
 * only ever offered as downloads: a message or attachment rendered by the browser could run script
 * with the API's origin (and its token, for a local UI).
 */
import type { MessageRecord } from '../core/archive/ports.js';
import { sanitizeFilename } from '../core/message/filenames.js';

/** Characters of the subject used to name a downloaded .eml: enough to recognise it in a folder. */
const RAW_FILENAME_STEM_LENGTH = 100;

/**
 * Types a browser would execute or render as a document if it ever displayed one (a download link
 * opened in a tab, an old browser ignoring the disposition): served as application/octet-stream.
 */
export function isActiveContentType(contentType: string): boolean {
  const type = contentType.toLowerCase();
  return (
    type.startsWith('text/html') ||
    type.includes('xml') ||
    type.includes('script') ||
    type.startsWith('multipart/') ||
    type.startsWith('message/') ||
    type === 'application/x-shockwave-flash'
  );
}

/** RFC 5987 attr-char: encodeURIComponent also leaves ' ( ) * unencoded, which attr-char excludes. */
function encodeExtValue(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * `attachment` with the name twice (RFC 6266): `filename*` carries it exactly in UTF-8, `filename` an
 * ASCII stand-in for clients that ignore `filename*`. The name is sanitised again here (no path,
 * control, bidi or reserved characters) whatever the index holds, and the fallback additionally loses
 * quotes, backslashes and "%" (which some browsers percent-decode in `filename`).
 */
export function contentDisposition(name: string | null, fallback: string): string {
  const safe = sanitizeFilename(name ?? undefined) ?? fallback;
  const ascii =
    safe
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .replace(/[^\x20-\x7e]|["\\%]/g, '_')
      .trim() || fallback;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeExtValue(safe)}`;
}

/** The .eml download name: the subject if it gives a usable name, else part of the digest. */
export function rawFilename(record: MessageRecord): string {
  // A "/" in a subject ("Q1/Q2 figures") is text, not a path: sanitizeFilename would keep only "Q2
  // figures".
  const subject = sanitizeFilename(record.subject?.replace(/[/\\]/g, '-')) ?? '';
  const stem = Array.from(subject)
    .slice(0, RAW_FILENAME_STEM_LENGTH)
    .join('')
    .replace(/[. ]+$/, '');
  return `${stem || `message-${record.sha256.slice(0, 12)}`}.eml`;
}

export const DOWNLOAD_HEADERS = {
  // The body is never a document of ours: even rendered, it may load nothing and run nothing.
  'Content-Security-Policy': "default-src 'none'; sandbox",
};
