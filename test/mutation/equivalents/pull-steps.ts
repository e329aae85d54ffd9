import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pull-steps files, each with why (see ../equivalent-mutants.ts). */
export const PULL_STEPS_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
