/**
 * Surviving mutants that no test can kill, because the mutated code behaves the same as the original
 * on every input, each with why. `mutation-summary.ts` matches survivors against this list by file,
 * source line, mutator, original text and replacement, so an entry goes stale (and is reported) as
 * soon as the line it explains changes.
 */

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
  Object.entries(BY_FILE).flatMap(([file, list]) =>
    list.map((m) => [mutantKey(file, m.line, m.mutator, m.original, m.replacement), m] as const),
  ),
);
