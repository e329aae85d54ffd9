import type { EquivalentMutant } from '../equivalent-mutants.js';

const SET_BEFORE_READ =
  'The constructor is private and connect() returns the client only after #open() has assigned this field, so the initial value is never read.';
const UNDEFINED_SPREAD =
  'Spreading the key with the value undefined is the same as leaving it out: the only reader treats an undefined value as absent (`?? default`, `?.()` or `=== undefined`).';

/** Equivalent mutants of the pop3-client files, each with why (see ../equivalent-mutants.ts). */
export const POP3_CLIENT_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/core/pop3/client.ts': [
    {
      line: "#greeting = '';",
      mutator: 'StringLiteral',
      original: "''",
      replacement: '"Stryker was here!"',
      why: SET_BEFORE_READ,
    },
    {
      line: "#utf8Mode: Utf8Mode = 'not-offered';",
      mutator: 'StringLiteral',
      original: "'not-offered'",
      replacement: '""',
      why: SET_BEFORE_READ,
    },
    {
      line: '#pipelining = false;',
      mutator: 'BooleanLiteral',
      original: 'false',
      replacement: 'true',
      why: SET_BEFORE_READ,
    },
    {
      line: '...(options.maxListingEntries === undefined',
      mutator: 'ConditionalExpression',
      original: 'options.maxListingEntries === undefined',
      replacement: 'false',
      why: `${UNDEFINED_SPREAD} CommandChannel reads it as \`maxListingEntries ?? MAX_LISTING_ENTRIES\`.`,
    },
    {
      line: '...(options.trace === undefined ? {} : { trace: options.trace }),',
      mutator: 'ConditionalExpression',
      original: 'options.trace === undefined',
      replacement: 'false',
      why: `${UNDEFINED_SPREAD} CommandChannel only calls it as \`trace?.(...)\`.`,
    },
    {
      line: '...(options.ca === undefined ? {} : { ca: options.ca }),',
      mutator: 'ConditionalExpression',
      original: 'options.ca === undefined',
      replacement: 'false',
      why: `${UNDEFINED_SPREAD} transport.ts reads it only in startTls as \`opts.ca === undefined ? {} : { ca }\`.`,
    },
    {
      line: '...(options.pinSha256 === undefined ? {} : { pinSha256: options.pinSha256 }),',
      mutator: 'ConditionalExpression',
      original: 'options.pinSha256 === undefined',
      replacement: 'false',
      why: `${UNDEFINED_SPREAD} transport.ts reads it only as \`opts.pinSha256 !== undefined\`.`,
    },
    {
      line: "if (greeting.kind !== 'ok') throw channel.errorFor({ verb: 'greeting', line: '' }, greeting);",
      mutator: 'StringLiteral',
      original: "''",
      replacement: '"Stryker was here!"',
      why: "errorFor reads only the spec's verb and login flag, never its line (the line is what would be sent, and nothing is).",
    },
    {
      line: "{ verb: 'CAPA', line: 'CAPA', barrier: true },",
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: '#capa runs only inside #open, while the command window is still 1 (resizeWindow comes last): a command gets its slot only when the previous reply has settled, which is the moment the barrier waits for too.',
    },
  ],
  'functions/core/pop3/command-channel.ts': [
    {
      line: 'let holdsSlot = false;',
      mutator: 'BooleanLiteral',
      original: 'false',
      replacement: 'true',
      why: 'It is false only when window.acquire() rejected, which happens only in refuseAll after the session failed; every later exec throws at its first assertUsable() before touching the window, so the extra release() changes nothing observable.',
    },
    {
      line: 'if (holdsSlot) this.#window.release();',
      mutator: 'ConditionalExpression',
      original: 'holdsSlot',
      replacement: 'true',
      why: 'Same as `let holdsSlot = false` → true: holdsSlot is false here only after acquire() was refused by a failed session, whose window is never used again.',
    },
    {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a source line quoted as text
      line: "const bytes = Buffer.from(`${line}\\r\\n`, 'utf8');",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: 'Node reads an empty encoding name as its default, UTF-8: Buffer.from(s, "") gives the same bytes as Buffer.from(s, "utf8").',
    },
    {
      line: 'this.#socket?.write(bytes);',
      mutator: 'OptionalChaining',
      original: 'this.#socket?.write',
      replacement: 'this.#socket.write',
      why: 'Every caller writes after attach(): exec is reached only from a connected client, and login.ts writes SASL responses inside an AUTH exec. #socket is never cleared, so it is never null here.',
    },
    {
      line: 'if (this.#deadlineTimer) clearTimeout(this.#deadlineTimer);',
      mutator: 'ConditionalExpression',
      original: 'this.#deadlineTimer',
      replacement: 'true',
      why: 'clearTimeout(null) does nothing.',
    },
  ],
  'functions/core/pop3/body-stream.ts': [
    {
      line: 'if (unstuffer.done) {',
      mutator: 'ConditionalExpression',
      original: 'unstuffer.done',
      replacement: 'false',
      why: "When the unstuffer is done, the drain loop's first pull() returns null without reading (pull checks unstuffer.done), and its finally calls finish(): the same as calling it here, a few microtasks later.",
    },
    {
      line: 'if (unstuffer.done) {',
      mutator: 'BlockStatement',
      original: '{ ...',
      replacement: '{}',
      why: "done becomes true only inside a pull() that then resolves null (a step never returns data and done together); that null reaches read()'s handler, which calls finish() whether or not the stream was destroyed meanwhile, and finish() is idempotent.",
    },
  ],
};
