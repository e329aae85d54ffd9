import type { EquivalentMutant } from '../equivalent-mutants.js';

/**
 * Why `barrier: true` on a command sent before login changes nothing today: a barrier only makes
 * CommandChannel.exec wait for earlier replies before writing. The login, STLS and UTF8 commands
 * are sent only from Pop3Client.#open, which awaits every earlier command, and before login the
 * command window is CommandWindow(1) (resized only after login); its one slot is released in the
 * same callback that ends the previous turn, so when the slot is granted no earlier reply is
 * outstanding and there is nothing for the barrier to wait for.
 */
const BEFORE_LOGIN_BARRIER =
  'Before login every command is awaited in turn and the window is 1, so the slot is granted only after the previous turn has ended: no earlier reply is ever outstanding for the barrier to wait for (see the comment above).';

/** Equivalent mutants of the pop3-login files, each with why (see ../equivalent-mutants.ts). */
export const POP3_LOGIN_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/core/pop3/login.ts': [
    {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a source line quoted as text
      line: "{ verb: 'USER', line: `USER ${user}`, barrier: true, login: true },",
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: `USER (the barrier flag): ${BEFORE_LOGIN_BARRIER}`,
    },
    {
      line: 'barrier: true,',
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: `PASS, APOP and AUTH (this line is the same in all three specs): ${BEFORE_LOGIN_BARRIER}`,
    },
  ],
  'functions/core/pop3/stls.ts': [
    {
      line: "await channel.simple({ verb: 'STLS', line: 'STLS', barrier: true }, () => undefined);",
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: `STLS follows the awaited CAPA: ${BEFORE_LOGIN_BARRIER}`,
    },
  ],
  'functions/core/pop3/utf8-mode.ts': [
    {
      line: "await channel.simple({ verb: 'UTF8', line: 'UTF8', barrier: true }, () => undefined);",
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: `UTF8 follows the awaited CAPA: ${BEFORE_LOGIN_BARRIER}`,
    },
  ],
};
