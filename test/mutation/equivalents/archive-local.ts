import type { EquivalentMutant } from '../equivalent-mutants.js';

const SYNC_CLEANUP_LINE = 'if (entry.current === current && entry.queued === null)';

/**
 * The cleanup in #startDirectorySync only forgets a directory's entry once its sync has settled. An
 * entry left behind ({ current: settled, queued: null }) makes the next caller queue behind a sync
 * that has already settled, which starts a fresh sync two microtasks later, exactly as a missing
 * entry starts one at once: every put still resolves only after a sync begun after its rename.
 */
const KEPT_ENTRY =
  'The entry is then never forgotten. A caller finding one whose sync has settled queues behind it, and the queued sync starts two microtasks later, as a missing entry would start one at once: each put still resolves after a directory sync begun after its rename; only a map entry per directory is kept.';

/**
 * Deleting the entry while a sync is queued: the queued start, a reaction to the same settled sync
 * registered after the cleanup's, makes a fresh entry. A caller could only tell if it asked between
 * the two reactions, in the same microtask drain; a put asks right after its rename resolves, which
 * is a callback of its own, with the microtasks of the settled sync drained before it.
 */
const DROPPED_ENTRY =
  "The entry is also deleted while a sync is queued. The queued sync's start, a reaction to the same settled sync registered after the cleanup's, then makes a fresh entry; only a call in the same microtask drain, between the two reactions, could see the gap, and a put asks only once its rename's own callback has run.";

/** Equivalent mutants of the archive-local files, each with why (see ../equivalent-mutants.ts). */
export const ARCHIVE_LOCAL_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/adapters/local/local-raw-store.ts': [
    {
      line: "const octets = Buffer.byteLength(mailboxId, 'utf8');",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: 'Buffer.byteLength reads an empty (falsy) encoding name as its default, UTF-8 (checked: 4 for "éé" either way); the name is written out for the reader.',
    },
    {
      line: 'await rm(tmp, { force: true }).catch(() => undefined);',
      mutator: 'ObjectLiteral',
      original: '{ force: true }',
      replacement: '{}',
      why: 'force only turns a missing path into success; the .catch swallows every rm failure anyway, so the put rejects with the same error and the same files remain either way.',
    },
    {
      line: 'await rm(tmp, { force: true }).catch(() => undefined);',
      mutator: 'BooleanLiteral',
      original: 'true',
      replacement: 'false',
      why: 'force only turns a missing path into success; the .catch swallows every rm failure anyway, so the put rejects with the same error and the same files remain either way.',
    },
    {
      line: 'const info = await lstat(path).catch(() => null);',
      mutator: 'ArrowFunction',
      original: '() => null',
      replacement: '() => undefined',
      why: 'info is only read as `info?.isFile()`, which short-circuits the same way for null and undefined.',
    },
    {
      line: 'const entry = this.#directorySyncs.get(directory) ?? { current, queued: null };',
      mutator: 'ObjectLiteral',
      original: '{ current, queued: null }',
      replacement: '{}',
      why: `current is assigned on the next line, and \`queued ??=\` treats undefined as null; only the cleanup's \`queued === null\` differs, until a queued sync sets it to null. ${KEPT_ENTRY}`,
    },
    {
      line: 'current.then(settled, settled).then(() => {',
      mutator: 'BlockStatement',
      original: '{ ...',
      replacement: '{}',
      why: KEPT_ENTRY,
    },
    {
      line: SYNC_CLEANUP_LINE,
      mutator: 'ConditionalExpression',
      original: 'entry.current === current && entry.queued === null',
      replacement: 'false',
      why: KEPT_ENTRY,
    },
    {
      line: SYNC_CLEANUP_LINE,
      mutator: 'ConditionalExpression',
      original: 'entry.current === current && entry.queued === null',
      replacement: 'true',
      why: DROPPED_ENTRY,
    },
    {
      line: SYNC_CLEANUP_LINE,
      mutator: 'LogicalOperator',
      original: 'entry.current === current && entry.queued === null',
      replacement: 'entry.current === current || entry.queued === null',
      why: `When the cleanup runs, entry.current is always this sync (the queued start that replaces it reacts to the same settled promise after the cleanup), so this is \`true\`. ${DROPPED_ENTRY}`,
    },
    {
      line: SYNC_CLEANUP_LINE,
      mutator: 'ConditionalExpression',
      original: 'entry.current === current',
      replacement: 'true',
      why: "When the cleanup runs, entry.current is always this sync: the queued start that replaces it is a reaction to the same settled promise, registered after the cleanup's, so it runs later.",
    },
    {
      line: SYNC_CLEANUP_LINE,
      mutator: 'EqualityOperator',
      original: 'entry.current === current',
      replacement: 'entry.current !== current',
      why: `When the cleanup runs, entry.current is always this sync (the queued start reacts to the same settled promise after it), so the condition is never true. ${KEPT_ENTRY}`,
    },
    {
      line: SYNC_CLEANUP_LINE,
      mutator: 'ConditionalExpression',
      original: 'entry.queued === null',
      replacement: 'true',
      why: DROPPED_ENTRY,
    },
    {
      line: SYNC_CLEANUP_LINE,
      mutator: 'EqualityOperator',
      original: 'entry.queued === null',
      replacement: 'entry.queued !== null',
      why: `With nothing queued the entry is kept, with a sync queued it is deleted: both are harmless. ${KEPT_ENTRY} ${DROPPED_ENTRY}`,
    },
  ],
};
