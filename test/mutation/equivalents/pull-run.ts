import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pull-run files, each with why (see ../equivalent-mutants.ts). */
export const PULL_RUN_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
