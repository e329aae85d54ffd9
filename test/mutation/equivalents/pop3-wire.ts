import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pop3-wire files, each with why (see ../equivalent-mutants.ts). */
export const POP3_WIRE_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
