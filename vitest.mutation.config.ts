import { defineConfig } from 'vitest/config';

/**
 * The suite `npm run mutate` runs against each mutant: every test of the durable path, including the
 * AWS adapters' contract suite on DynamoDB Local and s3rver and the client on a real Dovecot. Left
 * out are the suites that drive a whole process or server matrix (CLI, chaos, server labs, CDK),
 * which take minutes and reach the same code through the same paths, and the two slowest files of the
 * durable path (a 100 MB message through the AWS adapters, the mutated-mail fuzz: 32 s of the 89 s),
 * which every surviving mutant they cover would pay for again.
 */
export default defineConfig({
  test: {
    include: [
      'test/pop3/**/*.test.ts',
      'test/pull/**/*.test.ts',
      'test/archive/**/*.test.ts',
      'test/fuzz/server-replies.fuzz.test.ts',
      'test/puller/**/*.test.ts',
    ],
    exclude: ['test/pull/pull-run-aws.test.ts'],
    globalSetup: ['test/support/dovecot-global-setup.ts', 'test/support/emulators-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
  },
});
