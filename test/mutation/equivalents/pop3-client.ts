import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pop3-client files, each with why (see ../equivalent-mutants.ts). */
export const POP3_CLIENT_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
