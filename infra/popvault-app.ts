import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { PopvaultConfig } from './config/load-config.js';
import { PopvaultStack } from './popvault-stack.js';

/**
 * Adds the popvault stack for `config` to `app`, with cdk-nag's AwsSolutions pack as a synth-time
 * validation: any finding without a written acknowledgement fails synth. Shared by infra/app.ts and
 * the tests, so both check the same thing.
 */
export function addPopvault(app: App, config: PopvaultConfig): PopvaultStack {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return new PopvaultStack(app, config.stackName, {
    config,
    description: 'popvault: scheduled POP3 archiver (S3 + DynamoDB)',
  });
}
