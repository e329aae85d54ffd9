import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pull-spool files, each with why (see ../equivalent-mutants.ts). */
export const PULL_SPOOL_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
