import { App } from 'aws-cdk-lib';
import { PopvaultStack } from './popvault-stack.js';

// The stack's resources arrive with their own issue; this app proves synth works offline.
const app = new App();
new PopvaultStack(app, 'Popvault', {
  description: 'popvault: scheduled POP3 archiver (S3 + DynamoDB)',
});
app.synth();
