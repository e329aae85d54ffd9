import type { TestProject } from 'vitest/node';
import { type DovecotInfo, startDovecot } from './dovecot.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dovecot: DovecotInfo;
  }
}

/** One Dovecot for the whole run; tests keep apart by each using its own user (uniqueUser). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { info, stop } = await startDovecot();
  project.provide('dovecot', info);
  return stop;
}
