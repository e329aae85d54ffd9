import { defineConfig } from 'vitest/config';

/**
 * The suite `npm run mutate` runs against each mutant: the tests of the durable path that need no
 * POP3 server or AWS emulator (scripted servers, the local archive), so that a mutant costs seconds.
 * The real-server and emulator tests can only kill more mutants than this reports.
 */
export default defineConfig({
  test: {
    include: [
      'test/pop3/**/*.test.ts',
      'test/pull/pull-run-scripted.test.ts',
      'test/pull/pull-session-record.test.ts',
      'test/pull/pull-untrusted-*.test.ts',
      'test/pull/pull-lease-takeover.test.ts',
      'test/archive/local-*.test.ts',
      'test/fuzz/server-replies.fuzz.test.ts',
    ],
    exclude: ['test/pop3/client-dovecot.test.ts'],
    testTimeout: 30_000,
    maxWorkers: 1,
  },
});
