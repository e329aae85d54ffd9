import { Pop3ProtocolError } from './errors.js';

export type StatusLine =
  | { kind: 'ok'; text: string; responseCode: string | null }
  | { kind: 'err'; text: string; responseCode: string | null }
  /** A SASL continuation ("+ base64"), valid only inside an AUTH exchange (RFC 5034 s.4). */
  | { kind: 'continuation'; text: string };

/** Control characters in server text would let a hostile server forge log lines. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

/** Decodes server text for humans: UTF-8 when it is, otherwise Latin-1, never with controls. */
export function decodeServerText(bytes: Buffer): string {
  const utf8 = bytes.toString('utf8');
  const text = utf8.includes('\ufffd') ? bytes.toString('latin1') : utf8;
  return text.replace(CONTROL_CHARS, '?');
}

/**
 * Parses a status line (RFC 1939 s.3) and its extended response code (RFC 2449 s.8), e.g.
 * "-ERR [IN-USE] locked". Indicators are matched case-insensitively, as some servers send "+ok".
 */
export function parseStatusLine(line: Buffer, allowContinuation = false): StatusLine {
  const text = decodeServerText(line);
  const upper = text.slice(0, 4).toUpperCase();
  if (upper.startsWith('+OK') && (text.length === 3 || text[3] === ' ')) {
    const rest = text.slice(4);
    return { kind: 'ok', text: rest, responseCode: parseResponseCode(rest) };
  }
  if (upper === '-ERR' && (text.length === 4 || text[4] === ' ')) {
    const rest = text.slice(5);
    return { kind: 'err', text: rest, responseCode: parseResponseCode(rest) };
  }
  if (allowContinuation && (text === '+' || text.startsWith('+ '))) {
    return { kind: 'continuation', text: text.slice(2) };
  }
  throw new Pop3ProtocolError(
    'PROTOCOL_VIOLATION',
    `the server sent something that is not a POP3 status line: ${JSON.stringify(text.slice(0, 80))}`,
  );
}

/** "[SYS/TEMP] text" gives "SYS/TEMP"; codes are case-insensitive, so they are upper-cased. */
function parseResponseCode(text: string): string | null {
  const match = /^\[([!-Z\\^-~]+)\]/.exec(text);
  return match?.[1] ? match[1].toUpperCase() : null;
}
