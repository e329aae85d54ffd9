import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pop3-login files, each with why (see ../equivalent-mutants.ts). */
export const POP3_LOGIN_EQUIVALENTS: Record<string, EquivalentMutant[]> = {};
