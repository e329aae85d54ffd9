/**
 * Surviving mutants that no test can kill, because the mutated code behaves the same as the original
 * on every input, each with why. `mutation-summary.ts` matches survivors against this list by file,
 * source line, mutator, original text and replacement, so an entry goes stale (and is reported) as
 * soon as the line it explains changes.
 */

import { ARCHIVE_CORE_EQUIVALENTS } from './equivalents/archive-core.js';
import { ARCHIVE_LOCAL_EQUIVALENTS } from './equivalents/archive-local.js';
import { POP3_CLIENT_EQUIVALENTS } from './equivalents/pop3-client.js';
import { POP3_LOGIN_EQUIVALENTS } from './equivalents/pop3-login.js';
import { POP3_TRANSPORT_EQUIVALENTS } from './equivalents/pop3-transport.js';
import { POP3_WIRE_EQUIVALENTS } from './equivalents/pop3-wire.js';
import { PULL_RUN_EQUIVALENTS } from './equivalents/pull-run.js';
import { PULL_SPOOL_EQUIVALENTS } from './equivalents/pull-spool.js';
import { PULL_STEPS_EQUIVALENTS } from './equivalents/pull-steps.js';

export interface EquivalentMutant {
  /** The whole source line the mutant starts on, trimmed. */
  line: string;
  mutator: string;
  original: string;
  replacement: string;
  why: string;
}

export function mutantKey(
  file: string,
  line: string,
  mutator: string,
  original: string,
  replacement: string,
): string {
  return [file, line, mutator, original, replacement].join('|');
}

const UTF8_DEFAULT =
  'Node reads an empty encoding name as its default, UTF-8 (checked: Buffer.from and Hash.update give the same bytes for "" and "utf8"); the name is written out for the reader.';

const BY_FILE: Record<string, EquivalentMutant[]> = {
  'functions/core/pop3/dot-unstuffer.ts': [
    {
      line: '#prevCr = false;',
      mutator: 'BooleanLiteral',
      original: 'false',
      replacement: 'true',
      why: 'Only read in the InLine state, and every way into InLine sets it first: the initial value is never read.',
    },
    {
      line: 'this.#prevCr = true;',
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: 'This step returns without consuming chunk[i], which it has just seen is not LF; the next step reads that same byte first, so "CR then LF" cannot follow whatever the flag says.',
    },
    {
      line: 'if (end - i >= 2 && chunk[end - 2] === CR && chunk[end - 1] === LF) {',
      mutator: 'ConditionalExpression',
      original: 'end - i >= 2',
      replacement: 'true',
      why: 'With one byte left, chunk[end - 2] is a byte this state did not start on: LF or "." after a line start, or the CR held back after ".", whose next byte is known not to be LF. So "CR LF" at the end never holds there.',
    },
    {
      line: 'if (end - i >= 2 && chunk[end - 2] === CR && chunk[end - 1] === LF) {',
      mutator: 'ArithmeticOperator',
      original: 'end - i',
      replacement: 'end + i',
      why: 'Same as the guard being true (end + i >= 2 whenever i < end and end >= 2; a one-byte chunk has no chunk[end - 2]).',
    },
  ],
  'functions/core/pop3/listing.ts': [
    {
      line: 'if (token === undefined || !/^\\d{1,15}$/.test(token)) return null;',
      mutator: 'ConditionalExpression',
      original: 'token === undefined',
      replacement: 'false',
      why: 'RegExp.test(undefined) tests the string "undefined", which is not digits: null either way. The check is there for the type.',
    },
    {
      line: 'msg === null ||',
      mutator: 'ConditionalExpression',
      original: 'msg === null',
      replacement: 'false',
      why: 'msg is null only when the line did not match, and then uid is undefined too, which the same condition refuses.',
    },
    {
      line: 'uid === undefined ||',
      mutator: 'ConditionalExpression',
      original: 'uid === undefined',
      replacement: 'false',
      why: 'uid is undefined only when the line did not match, and then msg is null, which the same condition refuses first.',
    },
    {
      line: 'if (this.#pendingCr && run.length > 0 && run[0] === 0x0a) {',
      mutator: 'ConditionalExpression',
      original: 'run.length > 0',
      replacement: 'true',
      why: 'An empty run has no run[0] (undefined is not 0x0a). The check is there for the reader.',
    },
    {
      line: 'if (this.#pendingCr && run.length > 0 && run[0] === 0x0a) {',
      mutator: 'EqualityOperator',
      original: 'run.length > 0',
      replacement: 'run.length >= 0',
      why: 'An empty run has no run[0] (undefined is not 0x0a).',
    },
    {
      line: 'if (bytes.length === 0 || this.#overlong) return;',
      mutator: 'ConditionalExpression',
      original: 'bytes.length === 0 || this.#overlong',
      replacement: 'false',
      why: 'A shortcut: appending nothing changes nothing, and once a line is overlong its first 100 octets are all that is ever shown and it is refused whatever follows; without the shortcut the carry still never passes MAX_LISTING_LINE_OCTETS plus one run.',
    },
    {
      line: 'if (bytes.length === 0 || this.#overlong) return;',
      mutator: 'LogicalOperator',
      original: 'bytes.length === 0 || this.#overlong',
      replacement: 'bytes.length === 0 && this.#overlong',
      why: 'See the shortcut above: the output is the same with or without it.',
    },
    {
      line: 'if (bytes.length === 0 || this.#overlong) return;',
      mutator: 'ConditionalExpression',
      original: 'bytes.length === 0',
      replacement: 'false',
      why: 'Appending zero bytes to the carry leaves it as it was.',
    },
    {
      line: 'this.#carry.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.#carry, bytes]);',
      mutator: 'ConditionalExpression',
      original: 'this.#carry.length === 0',
      replacement: 'false',
      why: 'Concatenating an empty carry with the bytes copies them, as Buffer.from does: same content either way.',
    },
    {
      line: "if (overlong) throw new Error('line too long');",
      mutator: 'StringLiteral',
      original: "'line too long'",
      replacement: '""',
      why: 'The error only steers the line into the malformed count right below; its message is never read.',
    },
  ],
  'functions/core/pop3/sasl.ts': [
    {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a source line quoted as text
      line: "return Buffer.from(`\\u0000${user}\\u0000${password}`, 'utf8').toString('base64');",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: UTF8_DEFAULT,
    },
    {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a source line quoted as text
      line: "return Buffer.from(`user=${user}\\u0001auth=Bearer ${accessToken}\\u0001\\u0001`, 'utf8').toString(",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: UTF8_DEFAULT,
    },
    {
      line: ".update(timestamp + secret, 'utf8')",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: UTF8_DEFAULT,
    },
  ],
  'functions/core/pop3/secret-scrubber.ts': [
    {
      line: "const bytes = Buffer.from(secret, 'utf8');",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: UTF8_DEFAULT,
    },
    {
      line: "base64.replace(/=+$/, ''),",
      mutator: 'Regex',
      original: '/=+$/',
      replacement: '/=+/',
      why: 'Base64 has "=" only as padding at its end, so the first run of "=" is the last.',
    },
  ],
  'functions/core/pop3/transport.ts': [
    {
      line: "return value.replace(/[:\\s]/g, '').toUpperCase();",
      mutator: 'MethodExpression',
      original: "value.replace(/[:\\s]/g, '').toUpperCase()",
      replacement: "value.replace(/[:\\s]/g, '').toLowerCase()",
      why: 'Both sides of the one comparison that uses it (the seen fingerprint and the pin) go through this function, and folding hex digits to lower case is as one-to-one as folding them to upper case: the same pairs compare equal.',
    },
    {
      line: "if (opts.tls === 'none' && !isLoopbackAddress(socket.remoteAddress ?? '')) {",
      mutator: 'StringLiteral',
      original: "''",
      replacement: '"Stryker was here!"',
      why: 'Neither "" nor "Stryker was here!" is an IP address, so isLoopbackAddress returns false for both (and after \'connect\' remoteAddress is set anyway).',
    },
    {
      line: "const code = err.code ?? '';",
      mutator: 'StringLiteral',
      original: "''",
      replacement: '"Stryker was here!"',
      why: 'Without a code the error is TLS_FAILED either way: neither "" nor "Stryker was here!" is ERR_TLS_CERT_ALTNAME_INVALID or one of UNTRUSTED_CODES, and the TLS_FAILED message shows err.message, not the code.',
    },
    {
      line: '...(opts.ca === undefined ? {} : { ca: opts.ca }),',
      mutator: 'ConditionalExpression',
      original: 'opts.ca === undefined',
      replacement: 'false',
      why: "Passes ca: undefined instead of no ca. Node's configSecureContext does `if (ca) addCACerts(...) else context.addRootCerts()` (checked on Node 20 with --expose-internals), so both trust the default root store.",
    },
    {
      line: "socket.on('error', () => {});",
      mutator: 'StringLiteral',
      original: "'error'",
      replacement: '""',
      why: 'tls.connect({ socket }) over a connected net.Socket moves its handle into the TLS wrap, so reads, writes and their errors happen there and are emitted on the TLS socket only. Checked on Node 20: a reset mid-handshake (tls-handshake.test.ts) and one after it emit ECONNRESET on the TLS socket and nothing on the raw one. The listener stays as a guard for Node versions or paths not checked here.',
    },
    {
      line: "const seen = tls.getPeerCertificate().fingerprint256 ?? '';",
      mutator: 'StringLiteral',
      original: "''",
      replacement: '"Stryker was here!"',
      why: "'secureConnect' fires only after the peer's certificate chain was verified (rejectUnauthorized is always true, and Node's default ciphers have no anonymous suites), so there is a peer certificate with a fingerprint256 and the fallback is never used.",
    },
  ],
  'functions/core/pop3/wire-reader.ts': [
    {
      line: 'this.#socket?.pause();',
      mutator: 'OptionalChaining',
      original: 'this.#socket?.pause',
      replacement: 'this.#socket.pause',
      why: '#onData listens only while #socket is set: attach() sets #socket before adding the listener, and detach() removes the listener before clearing #socket.',
    },
    {
      line: 'const stripCr = line.length >= 2 && line[line.length - 2] === CR ? 2 : 1;',
      mutator: 'ConditionalExpression',
      original: 'line.length >= 2',
      replacement: 'true',
      why: 'For a one-octet line (a bare LF) the second test reads line[-1], which a Buffer returns as undefined, never CR: the length test never changes the outcome.',
    },
    {
      line: 'for (let c = 0; c < this.#chunks.length && base < limit; c += 1) {',
      mutator: 'ConditionalExpression',
      original: 'base < limit',
      replacement: 'true',
      why: 'It only bounds the scan: an LF in a chunk that starts at or past `limit` has a position >= limit, which the return below turns into -1 too, and no LF at all is -1 as well.',
    },
    {
      line: 'for (let c = 0; c < this.#chunks.length && base < limit; c += 1) {',
      mutator: 'EqualityOperator',
      original: 'base < limit',
      replacement: 'base <= limit',
      why: 'Scans one more chunk only when it starts exactly at `limit`, where any LF found has position >= limit and is returned as -1, as not scanning it gives.',
    },
    {
      line: 'if (from < base + len) {',
      mutator: 'ConditionalExpression',
      original: 'from < base + len',
      replacement: 'true',
      why: 'Skips chunks that end at or before `from`; searched anyway, indexOf starts at offset + (from - base) >= offset + len = chunk.length and finds nothing, so the loop goes on the same.',
    },
    {
      line: 'if (from < base + len) {',
      mutator: 'EqualityOperator',
      original: 'from < base + len',
      replacement: 'from <= base + len',
      why: 'Adds only the chunk ending exactly at `from`, where indexOf starts at chunk.length and finds nothing.',
    },
    {
      line: 'const at = chunk.indexOf(LF, offset + Math.max(0, from - base));',
      mutator: 'ArithmeticOperator',
      original: 'offset + Math.max(0, from - base)',
      replacement: 'offset - Math.max(0, from - base)',
      why: 'The max is 0 wherever this line runs: `from` is 0 or the buffered total at the previous scan, a chunk boundary (chunks are appended whole and nothing is consumed while readLine waits), and chunks ending at or before it are skipped above, so from - base <= 0 here. (Math.min instead of Math.max is killed: later chunks have from - base < 0.)',
    },
    {
      line: 'if (first.length - this.#head >= n) {',
      mutator: 'ConditionalExpression',
      original: 'first.length - this.#head >= n',
      replacement: 'false',
      why: 'A fast path only: the general loop below also takes a run that fits in the first chunk (one part, which Buffer.concat copies), so the same bytes come back; the fast path saves the copy.',
    },
    {
      line: 'if (first.length - this.#head >= n) {',
      mutator: 'EqualityOperator',
      original: 'first.length - this.#head >= n',
      replacement: 'first.length - this.#head > n',
      why: 'An exact fit then takes the general loop, which returns the same bytes (see the entry above).',
    },
    {
      line: 'if (first.length - this.#head >= n) {',
      mutator: 'BlockStatement',
      original: '{ ...',
      replacement: '{}',
      why: 'With the fast path emptied, the general loop below runs and returns the same bytes (see the entries above).',
    },
    {
      line: 'if (this.#paused) {',
      mutator: 'ConditionalExpression',
      original: 'this.#paused',
      replacement: 'true',
      why: "When #paused is false the socket is flowing: only this reader pauses it (attach() re-applies its pause to a new socket), and its 'data' listener keeps it flowing, so the extra resume() does nothing.",
    },
  ],
  'functions/core/pop3/command-window.ts': [
    {
      line: 'if (this.#waiters.length === 0 && this.#inUse < this.#size) {',
      mutator: 'ConditionalExpression',
      original: 'this.#waiters.length === 0',
      replacement: 'true',
      why: '#admit() grants queued requests whenever a slot frees, so a request is only ever queued while every slot is taken: the second test decides alone.',
    },
    {
      line: 'this.#waiters.shift()?.grant();',
      mutator: 'OptionalChaining',
      original: 'this.#waiters.shift()?.grant',
      replacement: 'this.#waiters.shift().grant',
      why: 'The loop condition has just checked the queue is not empty.',
    },
  ],
};

export const EQUIVALENT_MUTANTS: ReadonlyMap<string, EquivalentMutant> = new Map(
  [
    BY_FILE,
    POP3_WIRE_EQUIVALENTS,
    POP3_TRANSPORT_EQUIVALENTS,
    PULL_SPOOL_EQUIVALENTS,
    PULL_RUN_EQUIVALENTS,
    PULL_STEPS_EQUIVALENTS,
    POP3_LOGIN_EQUIVALENTS,
    POP3_CLIENT_EQUIVALENTS,
    ARCHIVE_LOCAL_EQUIVALENTS,
    ARCHIVE_CORE_EQUIVALENTS,
  ].flatMap((byFile) =>
    Object.entries(byFile).flatMap(([file, list]) =>
      list.map((m) => [mutantKey(file, m.line, m.mutator, m.original, m.replacement), m] as const),
    ),
  ),
);
