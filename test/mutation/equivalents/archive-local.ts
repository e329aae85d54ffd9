import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the archive-local files, each with why (see ../equivalent-mutants.ts). */
export const ARCHIVE_LOCAL_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
