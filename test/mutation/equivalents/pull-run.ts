import type { EquivalentMutant } from '../equivalent-mutants.js';

const ONCE =
  "An AbortSignal dispatches 'abort' at most once (abort() on an aborted signal does nothing), so a listener runs at most once with or without { once: true }; the signal belongs to one run and is dropped with it.";
const SPOOLS_SETTLED =
  'Every spool added to ctx.spools is handed to the persistence queue in the same synchronous step, and its release (which deletes it from ctx.spools) runs before its task settles; queue.settle() just before waits for every task, so the set is always empty here and neither mutant changes anything.';

/** Equivalent mutants of the pull-run files, each with why (see ../equivalent-mutants.ts). */
export const PULL_RUN_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/core/pull/pull-run.ts': [
    {
      line: "leaseSignal.addEventListener('abort', leaseLost, { once: true });",
      mutator: 'ObjectLiteral',
      original: '{ once: true }',
      replacement: '{}',
      why: ONCE,
    },
    {
      line: "leaseSignal.addEventListener('abort', leaseLost, { once: true });",
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: ONCE,
    },
    {
      line: "leaseSignal.addEventListener('abort', () => client.close(), { once: true });",
      mutator: 'ObjectLiteral',
      original: '{ once: true }',
      replacement: '{}',
      why: ONCE,
    },
    {
      line: "leaseSignal.addEventListener('abort', () => client.close(), { once: true });",
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: ONCE,
    },
    {
      line: 'await Promise.all([...ctx.spools].map((s) => s.cleanup()));',
      mutator: 'ArrayDeclaration',
      original: '[...ctx.spools]',
      replacement: '[]',
      why: SPOOLS_SETTLED,
    },
    {
      line: 'await Promise.all([...ctx.spools].map((s) => s.cleanup()));',
      mutator: 'ArrowFunction',
      original: '(s) => s.cleanup()',
      replacement: '() => undefined',
      why: SPOOLS_SETTLED,
    },
    {
      line: 'state.session = { utf8: client.utf8Mode, sizeMismatches: 0, sizesSuspect: false };',
      mutator: 'BooleanLiteral',
      original: 'false',
      replacement: 'true',
      why: 'The initial sizesSuspect is never read: the run record replaces it with listedSizesSuspect(...) computed from the mismatches and retrievals, and nothing else reads state.session.sizesSuspect.',
    },
    {
      line: 'if (plan.stopReason !== null) state.stopReason ??= plan.stopReason;',
      mutator: 'ConditionalExpression',
      original: 'plan.stopReason !== null',
      replacement: 'true',
      why: 'Without the check a null plan.stopReason is assigned only when state.stopReason is already null (??=), which leaves it null: the same value either way.',
    },
  ],
  'functions/core/pull/retrieve-messages.ts': [
    {
      line: "return 'done';",
      mutator: 'StringLiteral',
      original: "'done'",
      replacement: '""',
      why: "retrieveAll's only caller (session in pull-run.ts) compares the result with 'without-quit' and nothing else, so any other value takes the same path as 'done'.",
    },
  ],
};
