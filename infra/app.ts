import { App } from 'aws-cdk-lib';
import { ConfigError, chooseConfigFile, loadConfig } from './config/load-config.js';
import { addPopvault } from './popvault-app.js';

const app = new App();
try {
  const choice = chooseConfigFile({
    context: app.node.tryGetContext('config'),
    env: process.env,
    cwd: process.cwd(),
  });
  process.stderr.write(`popvault: config ${choice.path} (${choice.reason})\n`);
  addPopvault(app, loadConfig(choice.path));
} catch (error) {
  // A config mistake is the user's to fix: one line naming the field and the fix, no stack trace.
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`popvault: ${error.message}\n`);
  process.exit(1);
}
app.synth();
