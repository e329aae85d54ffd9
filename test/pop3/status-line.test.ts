/**
 * Status lines, response codes, server text and the login encodings, against the vectors their RFCs
 * and vendors publish. A status line misread as +OK is a DELE believed done; a response code misread
 * turns a locked mailbox into a wrong password.
 */
import { describe, expect, it } from 'vitest';
import { Pop3ProtocolError } from '../../functions/core/pop3/errors.js';
import {
  apopDigest,
  apopTimestamp,
  saslPlainResponse,
  xoauth2Response,
} from '../../functions/core/pop3/sasl.js';
import { decodeServerText, parseStatusLine } from '../../functions/core/pop3/status-line.js';

const status = (text: string, allowContinuation = false) =>
  parseStatusLine(Buffer.from(text, 'latin1'), allowContinuation);

describe('a status line', () => {
  it.each([
    ['+OK', { kind: 'ok', text: '', responseCode: null }],
    ['+OK 2 messages', { kind: 'ok', text: '2 messages', responseCode: null }],
    [
      '+ok lower case, as some servers send',
      { kind: 'ok', text: 'lower case, as some servers send', responseCode: null },
    ],
    ['-ERR', { kind: 'err', text: '', responseCode: null }],
    ['-ERR [IN-USE] locked', { kind: 'err', text: '[IN-USE] locked', responseCode: 'IN-USE' }],
    ['-err [sys/temp] later', { kind: 'err', text: '[sys/temp] later', responseCode: 'SYS/TEMP' }],
    ['+OK [UTF8] enabled', { kind: 'ok', text: '[UTF8] enabled', responseCode: 'UTF8' }],
  ])('%j is read as it was meant', (line, expected) => {
    expect(status(line)).toEqual(expected);
  });

  it.each([
    ['no code: empty brackets', '-ERR [] x'],
    ['no code: a space inside', '-ERR [IN USE] x'],
    ['no code: not at the start of the text', '-ERR x [IN-USE]'],
    ['no code: never closed', '-ERR [IN-USE x'],
  ])('%s', (_case, line) => {
    expect(status(line)).toMatchObject({ kind: 'err', responseCode: null });
  });

  it.each([['+OKAY'], ['-ERROR'], ['-ER'], ['OK'], [''], ['+'], ['* OK IMAP']])(
    '%j is not a POP3 status line',
    (line) => {
      expect(() => status(line)).toThrow(Pop3ProtocolError);
    },
  );

  it('a continuation is only read inside an AUTH exchange', () => {
    expect(status('+', true)).toEqual({ kind: 'continuation', text: '' });
    expect(status('+ dXNlcg==', true)).toEqual({ kind: 'continuation', text: 'dXNlcg==' });
    expect(() => status('+dXNlcg==', true)).toThrow(Pop3ProtocolError);
    expect(() => status('+ dXNlcg==')).toThrow(Pop3ProtocolError);
  });

  it('a caller that does not say it is inside an AUTH exchange gets no continuation: a bare "+" is refused', () => {
    expect(() => parseStatusLine(Buffer.from('+ dXNlcg=='))).toThrow(
      'the server sent something that is not a POP3 status line: "+ dXNlcg=="',
    );
  });

  it('garbage is shown cut to 80 characters, as JSON, never raw', () => {
    const garbage = `HTTP/1.1 400 ${'x'.repeat(200)}`;
    expect(() => status(garbage)).toThrow(
      `the server sent something that is not a POP3 status line: ${JSON.stringify(garbage.slice(0, 80))}`,
    );
  });
});

describe('server text shown to people', () => {
  it('is UTF-8 when it decodes as UTF-8, otherwise Latin-1', () => {
    expect(decodeServerText(Buffer.from('Grüße', 'utf8'))).toBe('Grüße');
    expect(decodeServerText(Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65]))).toBe('Grüße');
  });

  it('cannot forge a log line: controls become "?", a tab stays', () => {
    expect(decodeServerText(Buffer.from('a\r\nFAKE\u0000\u001b[31m\u007f\tb', 'latin1'))).toBe(
      'a??FAKE??[31m?\tb',
    );
  });
});

describe('login encodings', () => {
  it('SASL PLAIN is NUL user NUL password with an empty authzid (RFC 4616 s.2)', () => {
    expect(Buffer.from(saslPlainResponse('tim', 'tanstaaftanstaaf'), 'base64').toString()).toBe(
      '\u0000tim\u0000tanstaaftanstaaf',
    );
    expect(saslPlainResponse('tim', 'tanstaaftanstaaf')).toBe('AHRpbQB0YW5zdGFhZnRhbnN0YWFm');
  });

  it("XOAUTH2 matches Google's published example", () => {
    expect(
      xoauth2Response('someuser@example.com', 'ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg'),
    ).toBe(
      'dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==',
    );
  });

  it('APOP matches the example of RFC 1939 s.7', () => {
    const timestamp = apopTimestamp('+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>');
    expect(timestamp).toBe('<1896.697170952@dbc.mtview.ca.us>');
    expect(apopDigest(timestamp ?? '', 'tanstaaf')).toBe('c4c9334bac560ecc979e58001b3e22fb');
  });

  it('a greeting without a msg-id timestamp offers no APOP', () => {
    expect(apopTimestamp('+OK Dovecot ready.')).toBeNull();
    expect(apopTimestamp('+OK <no-at-sign>')).toBeNull();
    expect(apopTimestamp('+OK <a b@c>')).toBeNull();
  });
});
