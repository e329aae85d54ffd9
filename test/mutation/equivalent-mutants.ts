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
