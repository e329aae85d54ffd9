import { Aws, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { MailboxConfig, PopvaultConfig } from './config/load-config.js';
import { ArchiveAlarms } from './constructs/archive-alarms.js';
import { ArchiveTable } from './constructs/archive-table.js';
import { MailBucket } from './constructs/mail-bucket.js';
import { MailboxSchedules } from './constructs/mailbox-schedules.js';
import { MailboxSecrets } from './constructs/mailbox-secrets.js';
import { PullerFunctions } from './constructs/puller-function.js';
import { QueryApi } from './constructs/query-api.js';

export interface PopvaultStackProps extends StackProps {
  config: PopvaultConfig;
}

/**
 * The popvault stack: raw mail bucket, index table, one secret, one puller function and one schedule
 * per mailbox, the query API, alarms and a dashboard. Each part is a construct named for its job; this
 * class only wires them together and prints what a user needs after `cdk deploy`.
 */
export class PopvaultStack extends Stack {
  readonly mailBucket: MailBucket;
  readonly archiveTable: ArchiveTable;
  readonly secrets: MailboxSecrets;
  readonly pullers: PullerFunctions;
  readonly schedules: MailboxSchedules;
  readonly api: QueryApi;
  readonly alarms: ArchiveAlarms;

  constructor(scope: Construct, id: string, props: PopvaultStackProps) {
    super(scope, id, props);
    const { config } = props;
    // cdk.json carries no feature flags; without this one, CDK grants log delivery with the legacy
    // LogDeliveryWrite ACL, which needs ACLs enabled on the log bucket. A bucket policy is what AWS
    // recommends, and it lets the log bucket enforce bucket-owner object ownership.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    this.mailBucket = new MailBucket(this, 'MailBucket', { archive: config.archive });
    this.archiveTable = new ArchiveTable(this, 'ArchiveTable');
    this.secrets = new MailboxSecrets(this, 'MailboxSecrets', { mailboxes: config.mailboxes });
    this.pullers = new PullerFunctions(this, 'Puller', {
      config: config.puller,
      mailboxes: config.mailboxes,
      mailBucket: this.mailBucket,
      archiveTable: this.archiveTable,
      secrets: this.secrets,
    });
    const pullers = [...this.pullers.byMailbox.values()];
    this.schedules = new MailboxSchedules(this, 'MailboxSchedules', {
      pullers: new Map(
        pullers.map((p) => [p.mailbox.id, { mailbox: p.mailbox, fn: p.function.fn }]),
      ),
      deadLetterQueue: this.pullers.deadLetterQueue,
    });
    this.api = new QueryApi(this, 'QueryApi', {
      config: config.api,
      mailBucket: this.mailBucket,
      archiveTable: this.archiveTable,
    });
    this.alarms = new ArchiveAlarms(this, 'ArchiveAlarms', {
      config: config.alarms,
      mailboxes: config.mailboxes,
      pullers: new Map(pullers.map((p) => [p.mailbox.id, p.function.fn])),
      deadLetterQueue: this.pullers.deadLetterQueue,
    });

    new CfnOutput(this, 'ApiUrl', {
      description: `Query API base URL (${config.api.auth.kind === 'iam' ? 'sign requests with SigV4, service execute-api' : 'send a JWT as Authorization: Bearer'})`,
      value: this.api.url,
    });
    new CfnOutput(this, 'BucketName', {
      description: 'Raw mail bucket (retained when the stack is deleted)',
      value: this.mailBucket.bucket.bucketName,
    });
    new CfnOutput(this, 'TableName', {
      description: 'Archive index table (retained when the stack is deleted)',
      value: this.archiveTable.table.tableName,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic every alarm notifies; subscribe more endpoints here',
      value: this.alarms.topic.topicArn,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description: 'Failed, expired or undeliverable puller invocations',
      value: this.pullers.deadLetterQueue.queueUrl,
    });
    const used = new Set<string>();
    for (const { mailbox, secret } of this.secrets.byMailbox.values()) {
      const name = outputName(mailbox.id, used);
      new CfnOutput(this, `${name}SecretArn`, {
        description: `Secret holding the credentials of mailbox ${mailbox.id}`,
        value: secret.secretArn,
      });
      new CfnOutput(this, `${name}SetCredentials`, {
        description: `Write ${credentialsFileName(mailbox)} (chmod 600) from the ${name}CredentialsTemplate output, then run this`,
        value: `aws secretsmanager put-secret-value --region ${Aws.REGION} --secret-id ${secret.secretArn} --secret-string file://${credentialsFileName(mailbox)}`,
      });
      new CfnOutput(this, `${name}CredentialsTemplate`, {
        description: `Contents of ${credentialsFileName(mailbox)}: replace the <...> values`,
        value: JSON.stringify(credentialsTemplate(mailbox)),
      });
    }
  }
}

/** Output ids allow only letters and digits; ids that collapse to the same name get a number. */
function outputName(mailboxId: string, used: Set<string>): string {
  const base = `Mailbox${mailboxId
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== '')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('')}`;
  let name = base;
  for (let n = 2; used.has(name.toLowerCase()); n++) name = `${base}${n}`;
  used.add(name.toLowerCase());
  return name;
}

export function credentialsFileName(mailbox: MailboxConfig): string {
  return `popvault-secret-${mailbox.id}.json`;
}

/** The secret's JSON shape for this mailbox's auth method (see functions/core/credentials). */
export function credentialsTemplate(mailbox: MailboxConfig): Record<string, string> {
  if (mailbox.auth === 'oauth2') {
    return {
      kind: 'oauth2',
      username: mailbox.username,
      tokenEndpoint: '<https://login.example.com/oauth2/v2.0/token>',
      clientId: '<client id>',
      clientSecret: '<client secret>',
      grant: 'client_credentials',
      scope: '<scope, e.g. https://outlook.office365.com/.default>',
    };
  }
  return { kind: 'password', username: mailbox.username, password: '<password>' };
}
