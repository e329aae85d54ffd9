import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** The popvault stack. Empty until the stack issue wires the bucket, table, puller and API. */
export class PopvaultStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
  }
}
