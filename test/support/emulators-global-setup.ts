import type { TestProject } from 'vitest/node';
import { type AwsEmulatorInfo, startAwsEmulators } from './emulators.js';

declare module 'vitest' {
  export interface ProvidedContext {
    aws: AwsEmulatorInfo;
  }
}

/**
 * One DynamoDB Local and one s3rver for the whole run; test files keep apart by each creating its
 * own bucket and table (createTestBucket, createTestTable).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { info, stop } = await startAwsEmulators();
  project.provide('aws', info);
  return stop;
}
