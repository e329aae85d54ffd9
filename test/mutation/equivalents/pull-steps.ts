import type { EquivalentMutant } from '../equivalent-mutants.js';

const KEEP =
  "A 'keep' policy has no days, so falling through computes (archivedAt ?? now) + undefined * DAY_MS, NaN, and NaN <= now is false: the same answer as the explicit return.";
const UNDEFINED_CAP =
  'Comparing a number with an undefined cap is always false (the comparison converts undefined to NaN), so the undefined check only says what the comparison already does.';

/** Equivalent mutants of the pull-steps files, each with why (see ../equivalent-mutants.ts). */
export const PULL_STEPS_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/core/pull/plan-retrieval.ts': [
    {
      line: "if (policy.kind === 'keep') return false;",
      mutator: 'ConditionalExpression',
      original: "policy.kind === 'keep'",
      replacement: 'false',
      why: KEEP,
    },
    {
      line: "if (policy.kind === 'keep') return false;",
      mutator: 'StringLiteral',
      original: "'keep'",
      replacement: '""',
      why: KEEP,
    },
    {
      line: 'if (m.uidl !== null) uidlCounts.set(m.uidl, (uidlCounts.get(m.uidl) ?? 0) + 1);',
      mutator: 'ConditionalExpression',
      original: 'm.uidl !== null',
      replacement: 'true',
      why: 'Counting messages without a UIDL under a null key changes nothing: the only read of the counts (the duplicate check) first requires a non-null UIDL.',
    },
    {
      line: 'const record = m.uidl === null ? undefined : known.get(m.uidl);',
      mutator: 'ConditionalExpression',
      original: 'm.uidl === null',
      replacement: 'false',
      why: 'known is a map keyed by UIDL strings, so known.get(null) is undefined, the same as the guarded branch.',
    },
    {
      line: 'const duplicate = m.uidl !== null && (uidlCounts.get(m.uidl) ?? 0) > 1;',
      mutator: 'ConditionalExpression',
      original: 'm.uidl !== null',
      replacement: 'true',
      why: 'The counts never hold a null key (only non-null UIDLs are counted), so for a null UIDL the lookup gives 0 and duplicate stays false.',
    },
    {
      line: 'caps.maxMessageBytes !== undefined &&',
      mutator: 'ConditionalExpression',
      original: 'caps.maxMessageBytes !== undefined',
      replacement: 'true',
      why: UNDEFINED_CAP,
    },
    {
      line: 'if (caps.maxMessagesPerRun !== undefined && plan.toRetrieve.length >= caps.maxMessagesPerRun) {',
      mutator: 'ConditionalExpression',
      original: 'caps.maxMessagesPerRun !== undefined',
      replacement: 'true',
      why: UNDEFINED_CAP,
    },
    {
      line: 'caps.maxBytesPerRun !== undefined &&',
      mutator: 'ConditionalExpression',
      original: 'caps.maxBytesPerRun !== undefined',
      replacement: 'true',
      why: UNDEFINED_CAP,
    },
  ],
  'functions/core/pull/list-messages.ts': [
    {
      line: 'if (bad.msg !== null) excluded.add(bad.msg);',
      mutator: 'ConditionalExpression',
      original: 'bad.msg !== null',
      replacement: 'true',
      why: 'Adding null to the excluded set changes nothing: it is only asked about listed message numbers, which are never null.',
    },
    {
      line: 'const uidOf = new Map((uidList?.entries ?? []).map((u) => [u.msg, u.uid]));',
      mutator: 'ArrayDeclaration',
      original: '[]',
      replacement: '["Stryker was here"]',
      why: 'A string entry maps to the key undefined (a string has no msg), and uidOf is only asked about listed message numbers, so no lookup can find it.',
    },
  ],
};
