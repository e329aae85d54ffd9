import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pop3-transport files, each with why (see ../equivalent-mutants.ts). */
export const POP3_TRANSPORT_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
