import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the archive-core files, each with why (see ../equivalent-mutants.ts). */
export const ARCHIVE_CORE_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
