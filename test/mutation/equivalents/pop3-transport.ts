import type { EquivalentMutant } from '../equivalent-mutants.js';

const ABORT_FIRES_ONCE =
  "An AbortSignal dispatches 'abort' at most once (abort() on an aborted signal does nothing), so a listener registered without once still runs at most once; settle() removes it on every other path.";

/** Equivalent mutants of the pop3-transport files, each with why (see ../equivalent-mutants.ts). */
export const POP3_TRANSPORT_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/core/pop3/transport.ts': [
    {
      line: 'const aborted = (): void => fail(abort?.reason);',
      mutator: 'OptionalChaining',
      original: 'abort?.reason',
      replacement: 'abort.reason',
      why: 'aborted runs only as the listener of abort, so abort is always there when it runs; the ?. is for the type.',
    },
    {
      line: "abort?.addEventListener('abort', aborted, { once: true });",
      mutator: 'ObjectLiteral',
      original: '{ once: true }',
      replacement: '{}',
      why: ABORT_FIRES_ONCE,
    },
    {
      line: "abort?.addEventListener('abort', aborted, { once: true });",
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: ABORT_FIRES_ONCE,
    },
  ],
};
