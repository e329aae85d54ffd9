/**
 * Attachment file names as recorded in the index and offered in downloads. The name comes from the
 * sender, so it is made safe to show and to save under before anything uses it.
 */
import { bound, wellFormed } from './bounded-text.js';
import { MAX_FILENAME_EXTENSION_LENGTH, MAX_FILENAME_LENGTH } from './message-limits.js';

// Characters Windows refuses in names; ":" also names NTFS streams and drives ("C:evil").
const WINDOWS_RESERVED = /[<>:"|?*]/g;

/**
 * An attachment file name that is safe to show and to use as a file name: only the last path segment
 * ("../../etc/passwd" is "passwd"), no control or format characters (bidi overrides such as U+202E
 * make "gnp.exe" display as "exe.png"), no Windows-reserved characters, not "." or "..", bounded with
 * its extension kept. Null when nothing usable is left.
 */
export function sanitizeFilename(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const segments = wellFormed(raw)
    .replace(/[\p{Cc}\p{Cf}]+/gu, '')
    .split(/[/\\]+/);
  const last = segments.filter((segment) => segment.trim() !== '').pop() ?? '';
  // Windows drops trailing dots and spaces, so "a.exe. " would open as "a.exe".
  const name = last
    .replace(WINDOWS_RESERVED, '_')
    .trim()
    .replace(/[. ]+$/, '');
  if (name === '' || /^\.+$/.test(name)) return null;
  if (name.length <= MAX_FILENAME_LENGTH) return name;
  const dot = name.lastIndexOf('.');
  const extension =
    dot > 0 && name.length - dot <= MAX_FILENAME_EXTENSION_LENGTH ? name.slice(dot) : '';
  return (
    bound(name.slice(0, name.length - extension.length), MAX_FILENAME_LENGTH - extension.length) +
    extension
  );
}
