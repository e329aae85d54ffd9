// Mutation testing of the durable path (`npm run mutate`): StrykerJS puts small bugs into the code,
// one at a time, and runs the tests that cover each; a bug no test notices is a missing test.
// Outside CI: it runs the suite once per mutant. Results: RELIABILITY.md.
//   npm run mutate:parts                             # functions/core/{pop3,pull,archive} and functions/adapters, part by part
//   npm run mutate:parts -- pop3-client pull-run     # the named parts only (test/mutation/mutate-parts.sh)
//   npm run mutate -- --mutate functions/core/pop3/command-window.ts
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  dryRunTimeoutMinutes: 20,
  mutate: [
    'functions/core/pop3/**/*.ts',
    'functions/core/pull/**/*.ts',
    'functions/core/archive/**/*.ts',
    'functions/adapters/**/*.ts',
  ],
  coverageAnalysis: 'perTest',
  // Two cores, shared with the POP3 servers and emulators the tests start.
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
  // Added to each mutant's own test time from the dry run: a mutant that loops is classed as
  // detected (timed out) after this, not after a test's own 30 s limit.
  timeoutMS: 8_000,
  ignoreStatic: true,
  reporters: ['clear-text', 'progress'],
  // Incremental: the results are kept in a committed report, and a later run tests again only the
  // mutants whose code or covering tests changed, so the measurement carries across sessions.
  // MUTATION_REPORT lets the scope be measured in parts, each into its own report; the same file is
  // what `npm run mutate:summary` reads.
  incremental: true,
  incrementalFile: process.env.MUTATION_REPORT ?? 'reports/mutation/mutation.json',
  tempDirName: '.stryker-tmp',
  // TypeScript 7 (the native compiler) has no JavaScript API for Stryker's tsconfig rewriting, which
  // only matters to project references; vitest transpiles without it. Point it at no file.
  tsconfigFile: 'stryker-has-no-tsconfig.json',
  cleanTempDir: 'always',
};
