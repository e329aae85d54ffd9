import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BY_DATE_INDEX,
  BY_MESSAGE_ID_INDEX,
  BY_SENDER_INDEX,
  createTableInput,
  TTL_ATTRIBUTE,
} from '../../functions/adapters/aws/dynamodb-table.js';
import { parseMailboxSecret } from '../../functions/core/credentials/credentials-provider.js';
import { parseMailboxSettings } from '../../functions/core/settings/mailbox-settings.js';
import { EXAMPLE_CONFIG_FILE, parseConfig } from '../../infra/config/load-config.js';
import { missedRunWindow } from '../../infra/constructs/archive-alarms.js';
import { UNSET_SECRET_TEMPLATE } from '../../infra/constructs/mailbox-secrets.js';
import {
  actionsOf,
  BASE_MAILBOX,
  type CfnTemplate,
  logicalId,
  propsOf,
  readJson,
  resolveValue,
  resourcesOf,
  resourcesOfStatement,
  type Statement,
  type Synthesized,
  statementsOfRole,
  synth,
} from './synth.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const EXISTING_SECRET =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:popvault/shared-AbCdEf';
const EXISTING_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** The checked-in example: two mailboxes (password + rate, OAuth2 + office-hours cron). */
let example: Synthesized;
/** Every option turned on: KMS, Object Lock, JWT, an existing secret, per-mailbox alarm e-mail. */
let full: Synthesized;

beforeAll(() => {
  example = synth(readJson(join(ROOT, EXAMPLE_CONFIG_FILE)));
  full = synth({
    stackName: 'PopvaultFull',
    archive: {
      encryption: 'kms',
      objectLock: { mode: 'compliance', days: 365 },
      transition: { afterDays: 30, storageClass: 'STANDARD_IA' },
      noncurrentVersionDays: 7,
    },
    api: {
      auth: 'jwt',
      jwt: { issuer: 'https://idp.example.com', audience: ['popvault-cli'] },
      throttle: { rateLimit: 5, burstLimit: 7 },
    },
    puller: { maxConcurrency: null, memoryMiB: 2048 },
    alarms: { email: 'ops@example.com', missedRunPeriods: 2 },
    mailboxes: [
      { ...BASE_MAILBOX, alarmEmail: 'alice@example.com', maxMessageBytes: null },
      {
        ...BASE_MAILBOX,
        id: 'shared',
        policy: 'keep',
        enabled: false,
        secretArn: EXISTING_SECRET,
        secretKmsKeyArn: EXISTING_KEY,
      },
    ],
  });
});

afterAll(() => {
  for (const synthesized of [example, full]) {
    if (synthesized) rmSync(synthesized.outdir, { recursive: true, force: true });
  }
});

const only = (json: CfnTemplate, type: string) => {
  const found = resourcesOf(json, type);
  expect(found, type).toHaveLength(1);
  return found[0] as [string, NonNullable<CfnTemplate['Resources'][string]>];
};

describe('raw mail bucket', () => {
  it('blocks public access, encrypts, versions, logs access, expires old versions, is retained', () => {
    const mail = mailBucketOf(example.json);
    const logs = logicalId(example.json, 'AWS::S3::Bucket', 'MailBucketAccessLogs');
    example.template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: logs }, LogFilePrefix: 'mail/' },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [
            {
              Id: 'versions-and-uploads',
              Status: 'Enabled',
              NoncurrentVersionExpiration: { NoncurrentDays: 30 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
              ExpiredObjectDeleteMarker: true,
            },
            {
              Id: 'transition',
              Status: 'Enabled',
              Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
            },
          ],
        },
        ObjectLockEnabled: Match.absent(),
      },
    });
    expect(example.json.Resources[mail]?.DeletionPolicy).toBe('Retain');
    expect(example.json.Resources[logs]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        LifecycleConfiguration: { Rules: [{ ExpirationInDays: 365, Status: 'Enabled' }] },
      },
    });
  });

  it('refuses plain HTTP and TLS below 1.2 on both buckets, and lets S3 logging write by policy', () => {
    const policies = resourcesOf(example.json, 'AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(2);
    for (const [, policy] of policies) {
      const statements = (propsOf(policy).PolicyDocument as { Statement: Statement[] }).Statement;
      expect(statements).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      );
    }
    const logs = logicalId(example.json, 'AWS::S3::Bucket', 'MailBucketAccessLogs');
    const logPolicy = policies.find(([, p]) => (propsOf(p).Bucket as { Ref: string }).Ref === logs);
    expect(JSON.stringify(logPolicy)).toContain('logging.s3.amazonaws.com');
  });

  it('with "kms": a rotating, retained key, bucket keys on; Object Lock and the IA transition as configured', () => {
    const key = logicalId(full.json, 'AWS::KMS::Key', 'MailBucketKey');
    full.template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: { EnableKeyRotation: true },
    });
    full.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [key, 'Arn'] },
            },
          },
        ],
      },
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 7 } }),
          Match.objectLike({
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
          }),
        ]),
      },
    });
  });
});

describe('archive table', () => {
  it('mirrors createTableInput(): keys, the three indexes, on-demand; PITR, deletion protection, TTL, retained', () => {
    const layout = createTableInput('x');
    const [, table] = only(example.json, 'AWS::DynamoDB::GlobalTable');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: layout.KeySchema,
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      Replicas: [
        {
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: {
            PointInTimeRecoveryEnabled: true,
            RecoveryPeriodInDays: 35,
          },
        },
      ],
    });
    const attributes = table.Properties?.AttributeDefinitions as unknown[];
    expect(attributes).toHaveLength(layout.AttributeDefinitions?.length ?? -1);
    expect(attributes).toEqual(expect.arrayContaining(layout.AttributeDefinitions ?? []));
    const indexes = table.Properties?.GlobalSecondaryIndexes as { IndexName: string }[];
    expect(indexes.map((i) => i.IndexName).sort()).toEqual(
      [BY_DATE_INDEX, BY_MESSAGE_ID_INDEX, BY_SENDER_INDEX].sort(),
    );
    for (const expected of layout.GlobalSecondaryIndexes ?? []) {
      expect(indexes.find((i) => i.IndexName === expected.IndexName)).toEqual({
        IndexName: expected.IndexName,
        KeySchema: expected.KeySchema,
        Projection: { ProjectionType: 'ALL' },
      });
    }
  });
});

describe('mailbox secrets', () => {
  it('one created secret per mailbox, holding a placeholder the puller refuses before connecting', () => {
    const secrets = resourcesOf(example.json, 'AWS::SecretsManager::Secret');
    expect(secrets).toHaveLength(2);
    for (const [, secret] of secrets) {
      expect(secret.DeletionPolicy).toBe('Delete');
      expect(secret.Properties).toMatchObject({
        GenerateSecretString: {
          SecretStringTemplate: UNSET_SECRET_TEMPLATE,
          GenerateStringKey: 'placeholder',
        },
      });
      expect(secret.Properties?.SecretString).toBeUndefined();
    }
    const placeholder = { ...JSON.parse(UNSET_SECRET_TEMPLATE), placeholder: 'x' };
    expect(() => parseMailboxSecret(placeholder)).toThrow(/"kind"/);
  });

  it('a mailbox with secretArn gets no new secret', () => {
    expect(resourcesOf(full.json, 'AWS::SecretsManager::Secret')).toHaveLength(1);
  });
});

/** The raw-mail bucket: the one whose access is logged (to the other). */
function mailBucketOf(json: CfnTemplate): string {
  const [found] = resourcesOf(json, 'AWS::S3::Bucket').filter(
    ([, r]) => r.Properties?.LoggingConfiguration !== undefined,
  );
  if (!found) throw new Error('no bucket with access logging');
  return found[0];
}

const roleOf = (json: CfnTemplate, functionPrefix: string): string => {
  const fn = json.Resources[logicalId(json, 'AWS::Lambda::Function', functionPrefix)];
  return (propsOf(fn).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
};

/** The logical id of mailbox `id`'s own puller function. */
const pullerOf = (json: CfnTemplate, id: string): string =>
  logicalId(json, 'AWS::Lambda::Function', `PullerPuller${id}Function`);
const pullerRoleOf = (json: CfnTemplate, id: string): string =>
  roleOf(json, `PullerPuller${id}Function`);

describe('the puller', () => {
  it('one function per mailbox: an arm64 Node 24 ESM bundle sized for large mail, with its env paired to its grants', () => {
    const bucket = mailBucketOf(example.json);
    const table = logicalId(example.json, 'AWS::DynamoDB::GlobalTable', 'ArchiveTable');
    expect(
      resourcesOf(example.json, 'AWS::Lambda::Function').filter(([, r]) =>
        String(r.Properties?.Description).includes('pulls one mailbox'),
      ),
    ).toHaveLength(2);
    for (const id of ['personal', 'work']) {
      const logs = logicalId(example.json, 'AWS::Logs::LogGroup', `PullerPuller${id}Logs`);
      const secret = logicalId(
        example.json,
        'AWS::SecretsManager::Secret',
        `MailboxSecretsSecret${id}`,
      );
      const fn = propsOf(example.json.Resources[pullerOf(example.json, id)]);
      expect(fn).toMatchObject({
        Description: `popvault: pulls one mailbox (${id}) per scheduled event into the archive`,
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 1024,
        Timeout: 900,
        // 3 spool files of 50 MiB at once (MAX_SPOOL_FILES_AT_ONCE) + 512 MiB.
        EphemeralStorage: { Size: 662 },
        // One run per mailbox at a time, whatever the lease says.
        ReservedConcurrentExecutions: 1,
        LoggingConfig: { LogGroup: { Ref: logs } },
      });
      const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables).toMatchObject({
        POPVAULT_BUCKET: { Ref: bucket },
        POPVAULT_TABLE: { Ref: table },
        POPVAULT_SPOOL_DIR: '/tmp',
        NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8',
      });
      expect(Object.keys(variables).sort()).toEqual([
        'NODE_OPTIONS',
        'POPVAULT_BUCKET',
        'POPVAULT_MAILBOX',
        'POPVAULT_SEARCH',
        'POPVAULT_SPOOL_DIR',
        'POPVAULT_TABLE',
      ]);
      // The mailbox's settings, fixed at synth, naming its own secret: what the function runs with.
      const settings = parseMailboxSettings(
        JSON.parse(resolveValue(variables.POPVAULT_MAILBOX, { [secret]: `arn-of-${secret}` })),
      );
      expect(settings).toMatchObject({ mailboxId: id, secretId: `arn-of-${secret}` });
      expect(JSON.stringify(variables)).not.toMatch(/password|refreshToken|clientSecret/i);
      expect(example.json.Resources[logs]?.Properties).toEqual({ RetentionInDays: 90 });
    }
    const work = propsOf(example.json.Resources[pullerOf(example.json, 'work')]);
    const workSettings = JSON.parse(
      resolveValue(
        (work.Environment as { Variables: Record<string, unknown> }).Variables.POPVAULT_MAILBOX,
        {
          [logicalId(example.json, 'AWS::SecretsManager::Secret', 'MailboxSecretsSecretwork')]:
            'arn:work',
        },
      ),
    );
    expect(workSettings).toMatchObject({
      host: 'outlook.office365.com',
      policy: 'delete-after-days',
      deleteAfterDays: 30,
      maxMessagesPerRun: 2000,
    });
  });

  it('never retries blindly: async retries 0, failures and expired events to the DLQ', () => {
    const dlq = logicalId(example.json, 'AWS::SQS::Queue', 'PullerDeadLetterQueue');
    // Each event expires after its own schedule's shortest gap: 15 minutes, and an hour for the
    // office-hours cron.
    for (const [id, age] of [
      ['personal', 900],
      ['work', 3600],
    ] as const) {
      example.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: pullerOf(example.json, id) },
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: age,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
      });
    }
    example.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
    });
    example.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('without a size limit /tmp is the maximum, and maxConcurrency null reserves nothing', () => {
    expect(propsOf(full.json.Resources[pullerOf(full.json, 'personal')])).toMatchObject({
      EphemeralStorage: { Size: 10240 },
      MemorySize: 2048,
    });
    // Sized for its own mailbox only.
    expect(propsOf(full.json.Resources[pullerOf(full.json, 'shared')])).toMatchObject({
      EphemeralStorage: { Size: 662 },
    });
    full.template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      {
        Description: Match.stringLikeRegexp('pulls one mailbox'),
        ReservedConcurrentExecutions: Match.absent(),
      },
      2,
    );
  });

  it('refuses a maxConcurrency below the mailbox count: each mailbox function reserves 1', () => {
    expect(() =>
      synth({
        puller: { maxConcurrency: 1 },
        mailboxes: [BASE_MAILBOX, { ...BASE_MAILBOX, id: 'second' }],
      }),
    ).toThrow(
      /puller\.maxConcurrency is 1, but each of the 2 mailboxes .* set it to 2, or to null/,
    );
  });

  it('refuses at synth, naming the mailbox, settings that would not fit Lambda’s 4 KB environment', () => {
    const chain = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(4000)}\n-----END CERTIFICATE-----\n`;
    expect(() => synth({ mailboxes: [{ ...BASE_MAILBOX, caPem: chain }] })).toThrow(
      /mailbox personal: its puller's settings take about \d+ bytes of environment, over Lambda's 4096; .*pinSha256/,
    );
  });
});

describe('least privilege', () => {
  it('each mailbox puller may create mail under its own raw/ prefix, keep its own search index, write the index, read its own secret, and nothing else', () => {
    const bucket = mailBucketOf(example.json);
    for (const [id, segment] of [
      ['personal', 'cGVyc29uYWw'],
      ['work', 'd29yaw'],
    ] as const) {
      const statements = statementsOfRole(example.json, pullerRoleOf(example.json, id));
      const actions = actionsOf(statements);
      expect(new Set(actions)).toEqual(
        new Set([
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'sqs:SendMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          's3:PutObject',
          's3:AbortMultipartUpload',
          's3:GetObject',
          's3:DeleteObject',
          's3:ListBucket',
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:ConditionCheckItem',
          'secretsmanager:GetSecretValue',
        ]),
      );
      // No read, list or delete of mail: a HEAD of a missing key gets 403, which the store never
      // sends. Those actions exist only for the mailbox's own search index, and a read of its own
      // raw mail for the search backfill (next test).
      const search = new Set([
        'SearchIndexObjects',
        'ListSearchIndex',
        'ReadRawMailForSearchBackfill',
      ]);
      const mail = statements.filter((s) => !search.has(s.Sid ?? ''));
      expect(actionsOf(mail).filter((a) => /^s3:(Delete|Get|List)|\*/.test(a))).toEqual([]);
      const objects = {
        'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/raw/${segment}/*`]],
      };
      expect(mail.filter((s) => actionsOf([s]).some((a) => a.startsWith('s3:')))).toEqual([
        {
          Sid: 'CreateRawMailOnly',
          Effect: 'Allow',
          Action: 's3:PutObject',
          Resource: objects,
          // PutObject and CompleteMultipartUpload only with If-None-Match: create-only by policy.
          Condition: { Null: { 's3:if-none-match': 'false' } },
        },
        {
          Sid: 'UploadRawMailParts',
          Effect: 'Allow',
          Action: 's3:PutObject',
          Resource: objects,
          // CreateMultipartUpload and UploadPart, which take no conditional header.
          Condition: { Bool: { 's3:ObjectCreationOperation': 'false' } },
        },
        {
          Sid: 'AbortRawMailUploads',
          Effect: 'Allow',
          Action: 's3:AbortMultipartUpload',
          Resource: objects,
        },
      ]);
      const table = logicalId(example.json, 'AWS::DynamoDB::GlobalTable', 'ArchiveTable');
      const dynamo = statements.find((s) => s.Sid === 'IndexWrite') as Statement;
      expect(resourcesOfStatement(dynamo)).toEqual([
        { 'Fn::GetAtt': [table, 'Arn'] },
        ...[BY_DATE_INDEX, BY_MESSAGE_ID_INDEX, BY_SENDER_INDEX].map((name) => ({
          'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, `/index/${name}`]],
        })),
      ]);
    }
  });

  it('threat: one mailbox’s run touches another’s search index — each puller reads, writes, deletes and lists only its own search keys', () => {
    const bucket = mailBucketOf(example.json);
    const arn = (key: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${key}`]],
    });
    for (const [id, segment] of [
      ['personal', 'cGVyc29uYWw'],
      ['work', 'd29yaw'],
    ] as const) {
      const statements = statementsOfRole(example.json, pullerRoleOf(example.json, id));
      const keys = [`search/pending/${segment}/*`, `search/segments/${segment}/*`];
      const manifest = `search/manifest/${segment}.json`;
      const backfill = `search/backfill/${segment}.json`;
      expect(statements.find((s) => s.Sid === 'SearchIndexObjects')).toEqual({
        Sid: 'SearchIndexObjects',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        Resource: [...keys, manifest, backfill].map(arn),
      });
      expect(statements.find((s) => s.Sid === 'ListSearchIndex')).toEqual({
        Sid: 'ListSearchIndex',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': [bucket, 'Arn'] },
        Condition: { StringLike: { 's3:prefix': [...keys, manifest, backfill] } },
      });
      // The backfill reads back this mailbox's own mail, never another's, and changes none.
      expect(statements.find((s) => s.Sid === 'ReadRawMailForSearchBackfill')).toEqual({
        Sid: 'ReadRawMailForSearchBackfill',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: arn(`raw/${segment}/*`),
      });
    }
    // The environment variable that turns the journal and the flush on sits beside the grant.
    const env = propsOf(example.json.Resources[pullerOf(example.json, 'personal')]).Environment as {
      Variables: Record<string, unknown>;
    };
    expect(env.Variables.POPVAULT_SEARCH).toBe('s3-segments');
  });

  it('the API function reads search manifests and segments, and lists nothing', () => {
    const bucket = mailBucketOf(example.json);
    const api = statementsOfRole(example.json, roleOf(example.json, 'QueryApiHandlerFunction'));
    expect(api.find((s) => s.Sid === 'ReadSearchIndex')).toEqual({
      Sid: 'ReadSearchIndex',
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: ['search/manifest/*', 'search/segments/*'].map((key) => ({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${key}`]],
      })),
    });
    expect(actionsOf(api)).not.toContain('s3:ListBucket');
    const fn =
      example.json.Resources[
        logicalId(example.json, 'AWS::Lambda::Function', 'QueryApiHandlerFunction')
      ];
    expect(
      (propsOf(fn).Environment as { Variables: Record<string, unknown> }).Variables.POPVAULT_SEARCH,
    ).toBe('s3-segments');
  });

  it('threat: one mailbox’s run reads another’s secret — mailbox A’s role may read A’s secret and not B’s, and no puller role has a wildcard secret grant', () => {
    const secretOf = (json: CfnTemplate, id: string) => ({
      Ref: logicalId(json, 'AWS::SecretsManager::Secret', `MailboxSecretsSecret${id}`),
    });
    const readsOf = (json: CfnTemplate, id: string) =>
      statementsOfRole(json, pullerRoleOf(json, id))
        .filter((s) => actionsOf([s]).some((a) => a.startsWith('secretsmanager:')))
        .flatMap((s) => {
          expect(actionsOf([s])).toEqual(['secretsmanager:GetSecretValue']);
          expect(s.Condition).toBeUndefined();
          return resourcesOfStatement(s);
        });
    expect(readsOf(example.json, 'personal')).toEqual([secretOf(example.json, 'personal')]);
    expect(readsOf(example.json, 'work')).toEqual([secretOf(example.json, 'work')]);
    expect(readsOf(full.json, 'personal')).toEqual([secretOf(full.json, 'personal')]);
    expect(readsOf(full.json, 'shared')).toEqual([EXISTING_SECRET]);
    for (const synthesized of [example, full]) {
      for (const [id, role] of resourcesOf(synthesized.json, 'AWS::IAM::Role')) {
        const statements = statementsOfRole(synthesized.json, id);
        for (const statement of statements) {
          if (!actionsOf([statement]).some((a) => a.startsWith('secretsmanager:'))) continue;
          for (const resource of resourcesOfStatement(statement)) {
            expect(JSON.stringify(resource), `${id}`).not.toContain('*');
          }
        }
        if (JSON.stringify(role.Properties).includes('lambda.amazonaws.com')) {
          expect(
            actionsOf(statements).filter((a) => a.startsWith('secretsmanager:')).length,
            id,
          ).toBeLessThanOrEqual(1);
        }
      }
    }
    const api = statementsOfRole(example.json, roleOf(example.json, 'QueryApiHandlerFunction'));
    expect(actionsOf(api).filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
  });

  it('an existing secret’s key is decrypted only by its own mailbox’s puller, only through Secrets Manager', () => {
    const shared = statementsOfRole(full.json, pullerRoleOf(full.json, 'shared'));
    expect(shared.find((s) => s.Sid === 'DecryptMailboxSecret')).toEqual({
      Sid: 'DecryptMailboxSecret',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: EXISTING_KEY,
      Condition: {
        StringEquals: {
          'kms:ViaService': {
            'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
          },
        },
      },
    });
    const personal = statementsOfRole(full.json, pullerRoleOf(full.json, 'personal'));
    expect(personal.find((s) => s.Sid === 'DecryptMailboxSecret')).toBeUndefined();
  });

  it('the API function reads objects and index records and writes nothing', () => {
    for (const synthesized of [example, full]) {
      const api = statementsOfRole(
        synthesized.json,
        roleOf(synthesized.json, 'QueryApiHandlerFunction'),
      );
      const actions = actionsOf(api).filter((a) => !a.startsWith('logs:'));
      const expected = [
        's3:GetObject',
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
      ];
      if (synthesized === full) expected.push('kms:Decrypt');
      expect(new Set(actions)).toEqual(new Set(expected));
      // Objects under raw/ only: the prefix every raw key has (rawObjectKey).
      expect(api.find((s) => s.Sid === 'ReadRawMail')?.Resource).toEqual({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [mailBucketOf(synthesized.json), 'Arn'] }, '/raw/*']],
      });
    }
  });

  it('with KMS the puller may encrypt and decrypt, the API only decrypt, both only via S3', () => {
    const key = logicalId(full.json, 'AWS::KMS::Key', 'MailBucketKey');
    const viaS3 = {
      StringEquals: {
        'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
      },
    };
    const puller = statementsOfRole(full.json, pullerRoleOf(full.json, 'personal'));
    expect(puller.find((s) => s.Sid === 'MailKeyViaS3')).toEqual({
      Sid: 'MailKeyViaS3',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: { 'Fn::GetAtt': [key, 'Arn'] },
      Condition: viaS3,
    });
    const api = statementsOfRole(full.json, roleOf(full.json, 'QueryApiHandlerFunction'));
    expect(api.find((s) => s.Sid === 'MailKeyViaS3')).toMatchObject({
      Action: 'kms:Decrypt',
      Condition: viaS3,
    });
  });

  it('no role uses a managed policy, and no statement anywhere grants "*" resources', () => {
    for (const synthesized of [example, full]) {
      for (const [id, role] of resourcesOf(synthesized.json, 'AWS::IAM::Role')) {
        expect(role.Properties?.ManagedPolicyArns, id).toBeUndefined();
        for (const statement of statementsOfRole(synthesized.json, id)) {
          expect(
            resourcesOfStatement(statement),
            `${id} ${JSON.stringify(statement)}`,
          ).not.toContain('*');
        }
      }
    }
  });

  it('Scheduler may only invoke the mailbox pullers and dead-letter, assumed for this account only', () => {
    const [role] = resourcesOf(example.json, 'AWS::IAM::Role').filter(([id]) =>
      id.startsWith('MailboxSchedulesInvokeRole'),
    ) as [[string, CfnTemplate['Resources'][string]]];
    expect(role[1].Properties?.AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ],
    });
    const statements = statementsOfRole(example.json, role[0]);
    expect(new Set(actionsOf(statements))).toEqual(
      new Set(['lambda:InvokeFunction', 'sqs:SendMessage']),
    );
    const invoked = statements
      .filter((s) => actionsOf([s]).includes('lambda:InvokeFunction'))
      .flatMap(resourcesOfStatement);
    for (const id of ['personal', 'work']) {
      expect(invoked).toContainEqual({ 'Fn::GetAtt': [pullerOf(example.json, id), 'Arn'] });
    }
  });
});

describe('schedules', () => {
  it('one per mailbox, in its time zone, on time, invoking its own mailbox’s puller with only the mailbox id', () => {
    const dlq = logicalId(example.json, 'AWS::SQS::Queue', 'PullerDeadLetterQueue');
    const schedules = resourcesOf(example.json, 'AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(2);
    const byMailbox = new Map<string, Record<string, unknown>>();
    for (const [, schedule] of schedules) {
      const target = schedule.Properties?.Target as Record<string, unknown>;
      // A literal: nothing from a secret or a setting can reach the event.
      expect(typeof target.Input).toBe('string');
      const input = JSON.parse(target.Input as string) as { mailboxId: string };
      expect(Object.keys(input)).toEqual(['mailboxId']);
      expect(target.Arn).toEqual({
        'Fn::GetAtt': [pullerOf(example.json, input.mailboxId), 'Arn'],
      });
      expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } });
      expect(schedule.Properties?.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
      byMailbox.set(input.mailboxId, { ...schedule.Properties, input });
    }
    expect(byMailbox.get('personal')).toMatchObject({
      ScheduleExpression: 'rate(15 minutes)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: { RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 900 } },
      input: { mailboxId: 'personal' },
    });
    expect(byMailbox.get('work')).toMatchObject({
      ScheduleExpression: 'cron(0 7-19 ? * MON-FRI *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      input: { mailboxId: 'work' },
    });
  });

  it('a disabled mailbox keeps its schedule, paused; a referenced secret is fixed in its function by ARN', () => {
    full.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      State: 'DISABLED',
      Target: { Input: JSON.stringify({ mailboxId: 'shared' }) },
    });
    const variables = (
      propsOf(full.json.Resources[pullerOf(full.json, 'shared')]).Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(JSON.parse(resolveValue(variables.POPVAULT_MAILBOX, {}))).toMatchObject({
      mailboxId: 'shared',
      secretId: EXISTING_SECRET,
    });
  });
});

describe('query API', () => {
  it('one $default route behind IAM auth; throttled, access-logged stage', () => {
    const routes = resourcesOf(example.json, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.Properties)).toEqual([
      expect.objectContaining({ RouteKey: '$default', AuthorizationType: 'AWS_IAM' }),
    ]);
    const logs = logicalId(example.json, 'AWS::Logs::LogGroup', 'QueryApiAccessLogs');
    example.template.hasResource('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Retain',
      Properties: { RetentionInDays: 90 },
    });
    const [, stage] = only(example.json, 'AWS::ApiGatewayV2::Stage');
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [logs, 'Arn'] } },
    });
    const format = JSON.parse(
      (propsOf(stage).AccessLogSettings as { Format: string }).Format,
    ) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      user: '$context.identity.userArn',
      status: '$context.status',
    });
  });

  it('the API function gets the bucket and table names it reads', () => {
    const bucket = mailBucketOf(example.json);
    const table = logicalId(example.json, 'AWS::DynamoDB::GlobalTable', 'ArchiveTable');
    example.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('query API'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 10,
      Environment: {
        Variables: {
          POPVAULT_BUCKET: { Ref: bucket },
          POPVAULT_TABLE: { Ref: table },
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it('the JWT option: issuer and audience, and still no unauthenticated route', () => {
    const authorizer = logicalId(full.json, 'AWS::ApiGatewayV2::Authorizer', 'QueryApiHttpApiJwt');
    full.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: 'https://idp.example.com', Audience: ['popvault-cli'] },
    });
    const routes = resourcesOf(full.json, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.Properties)).toEqual([
      expect.objectContaining({
        RouteKey: '$default',
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: authorizer },
      }),
    ]);
    full.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 7 },
    });
  });
});

describe('alarms and dashboard', () => {
  const alarmsOf = (json: CfnTemplate, prefix: string) =>
    resourcesOf(json, 'AWS::CloudWatch::Alarm').filter(([id]) => id.startsWith(prefix));
  // CDK renders dimensions sorted by name.
  const puller = (dims: Record<string, string>) =>
    Object.entries({ service: 'puller', ...dims })
      .map(([Name, Value]) => ({ Name, Value }))
      .sort((a, b) => a.Name.localeCompare(b.Name));

  it('missed runs: N schedule periods without SuccessfulRuns, missing data counts as missed', () => {
    const topic = logicalId(example.json, 'AWS::SNS::Topic', 'ArchiveAlarmsTopic');
    const [[, rate]] = alarmsOf(example.json, 'ArchiveAlarmsMissedRunspersonal') as [
      [string, never],
    ];
    expect((rate as { Properties: unknown }).Properties).toMatchObject({
      Namespace: 'Popvault',
      MetricName: 'SuccessfulRuns',
      Dimensions: puller({ mailbox: 'personal' }),
      Statistic: 'Sum',
      Period: 900,
      // Three runs, plus one period of slack for clock-aligned periods.
      EvaluationPeriods: 4,
      DatapointsToAlarm: 4,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: topic }],
    });
    // Office hours: three runs can span a weekend (62 h), watched in hourly periods.
    example.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SuccessfulRuns',
      Dimensions: puller({ mailbox: 'work' }),
      Period: 3600,
      EvaluationPeriods: 63,
      DatapointsToAlarm: 63,
    });
  });

  it('the missed-run window always fits CloudWatch’s limits and always covers the N runs', () => {
    const schedules = [
      'rate(1 minute)',
      'rate(7 minutes)',
      'rate(30 minutes)',
      'rate(1 hour)',
      'rate(1 day)',
      'cron(0 7-19 ? * MON-FRI *)',
      'cron(0/5 8-17 ? * MON-FRI *)',
      'cron(0 6 * * ? *)',
    ];
    let checked = 0;
    for (const schedule of schedules) {
      for (const missedRunPeriods of [1, 2, 3, 6, 20, 100]) {
        let config: ReturnType<typeof parseConfig>;
        try {
          config = parseConfig(
            { alarms: { missedRunPeriods }, mailboxes: [{ ...BASE_MAILBOX, schedule }] },
            't',
          );
        } catch {
          continue; // refused by the loader with a message (tested in load-config.test.ts)
        }
        const mailbox = config.mailboxes[0] as (typeof config.mailboxes)[0];
        const window = missedRunWindow(mailbox, missedRunPeriods);
        const total = window.periodMinutes * window.periods;
        const label = `${schedule} x${missedRunPeriods}`;
        expect(total, label).toBeGreaterThanOrEqual(window.spanMinutes + window.periodMinutes);
        expect(total, label).toBeLessThanOrEqual(window.periodMinutes < 60 ? 1440 : 10080);
        expect(window.periodMinutes, label).toBeLessThanOrEqual(1440);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('credential failures, puller errors, dead letters; "messages left growing" only for policy delete', () => {
    example.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CredentialFailures',
      Dimensions: puller({ mailbox: 'work' }),
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
    example.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SizesSuspectRuns',
      Dimensions: puller({ mailbox: 'work' }),
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
    for (const id of ['personal', 'work']) {
      example.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: pullerOf(example.json, id) } }],
        Threshold: 1,
      });
    }
    example.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
    const growing = alarmsOf(example.json, 'ArchiveAlarmsRemainingGrowing');
    expect(growing.map(([id]) => id)).toEqual([expect.stringMatching(/Growingpersonal/)]);
    expect((propsOf(growing[0]?.[1]) as { Metrics: unknown }).Metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Expression: 'DIFF(remaining)', ReturnData: true }),
        expect.objectContaining({
          Id: 'remaining',
          ReturnData: false,
          MetricStat: expect.objectContaining({
            Metric: expect.objectContaining({ MetricName: 'RemainingOnServer' }),
            Stat: 'Maximum',
          }),
        }),
      ]),
    );
    // 1 stack-wide (dead letters) + per mailbox: its puller's errors, missed, credentials, sizes
    // suspect, search flush failing (+ growing for "delete").
    expect(resourcesOf(example.json, 'AWS::CloudWatch::Alarm')).toHaveLength(1 + 6 + 5);
  });

  it('e-mail subscriptions: the stack topic and a mailbox’s own topic; topics refuse plain HTTP', () => {
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'alice@example.com',
    });
    const own = logicalId(full.json, 'AWS::SNS::Topic', 'ArchiveAlarmsTopicpersonal');
    const stackTopic = logicalId(full.json, 'AWS::SNS::Topic', 'ArchiveAlarmsTopicAB');
    full.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CredentialFailures',
      Dimensions: puller({ mailbox: 'personal' }),
      AlarmActions: [{ Ref: stackTopic }, { Ref: own }],
    });
    expect(resourcesOf(example.json, 'AWS::SNS::Subscription')).toHaveLength(0);
    for (const [, policy] of resourcesOf(full.json, 'AWS::SNS::TopicPolicy')) {
      expect(JSON.stringify(policy.Properties)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('a search flush failing in three runs within an hour alarms, for every mailbox', () => {
    for (const id of ['personal', 'work']) {
      example.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'SearchFlushFailures',
        Dimensions: puller({ mailbox: id }),
        Statistic: 'Sum',
        Period: 3600,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 3,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('a dashboard of runs, messages and bytes per mailbox', () => {
    const [, dashboard] = only(example.json, 'AWS::CloudWatch::Dashboard');
    const body = resolveValue(
      dashboard.Properties?.DashboardBody,
      {
        'AWS::Region': 'us-east-1',
        [pullerOf(example.json, 'personal')]: 'puller-personal',
        [pullerOf(example.json, 'work')]: 'puller-work',
        [logicalId(example.json, 'AWS::SQS::Queue', 'PullerDeadLetterQueue')]: 'dlq-url',
      },
      {
        [`${logicalId(example.json, 'AWS::SQS::Queue', 'PullerDeadLetterQueue')}.QueueName`]: 'dlq',
        ...Object.fromEntries(
          resourcesOf(example.json, 'AWS::CloudWatch::Alarm').map(([id]) => [
            `${id}.Arn`,
            `arn:${id}`,
          ]),
        ),
      },
    );
    const widgets = (
      JSON.parse(body) as { widgets: { properties: { title: string; metrics?: unknown[] } }[] }
    ).widgets;
    expect(widgets.map((w) => w.properties.title)).toEqual(
      expect.arrayContaining(['Successful runs', 'Messages archived', 'Bytes retrieved', 'Alarms']),
    );
    const bytes = widgets.find((w) => w.properties.title === 'Bytes retrieved');
    expect(JSON.stringify(bytes?.properties.metrics)).toContain(
      '["Popvault","BytesRetrieved","mailbox","personal","service","puller"',
    );
  });
});

describe('outputs', () => {
  it('API URL, bucket, table, and per mailbox its secret ARN, the command that sets it, and the JSON to set', () => {
    const outputs = example.json.Outputs ?? {};
    const secret = logicalId(
      example.json,
      'AWS::SecretsManager::Secret',
      'MailboxSecretsSecretpersonal',
    );
    const refs = {
      [secret]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf',
      'AWS::Region': 'eu-west-1',
    };
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'BucketName',
        'TableName',
        'MailboxPersonalSecretArn',
        'MailboxWorkSetCredentials',
      ]),
    );
    expect(outputs.ApiUrl?.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'https://',
          { Ref: logicalId(example.json, 'AWS::ApiGatewayV2::Api', 'QueryApiHttpApi') },
          '.execute-api.',
          { Ref: 'AWS::Region' },
          '.',
          { Ref: 'AWS::URLSuffix' },
          '/',
        ],
      ],
    });
    expect(outputs.MailboxPersonalSecretArn?.Value).toEqual({ Ref: secret });
    expect(resolveValue(outputs.MailboxPersonalSetCredentials?.Value, refs)).toBe(
      'aws secretsmanager put-secret-value --region eu-west-1 --secret-id arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf --secret-string file://popvault-secret-personal.json',
    );
    const password = JSON.parse(outputs.MailboxPersonalCredentialsTemplate?.Value as string);
    expect(parseMailboxSecret({ ...password, password: 'hunter2' })).toEqual({
      kind: 'password',
      username: 'alice@example.com',
      password: 'hunter2',
    });
    const oauth = JSON.parse(outputs.MailboxWorkCredentialsTemplate?.Value as string);
    expect(
      parseMailboxSecret({
        ...oauth,
        tokenEndpoint: 'https://login.example.com/token',
        scope: 's',
      }),
    ).toMatchObject({
      kind: 'oauth2',
      username: 'alice@contoso.example',
      grant: 'client_credentials',
    });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('passes with zero unacknowledged findings (synth above would have thrown), and each acknowledgement has a reason', () => {
    for (const synthesized of [example, full]) {
      const acknowledgements: { path: string; id: string; reason: string }[] = [];
      const visit = (node: IConstruct) => {
        for (const entry of node.node.metadata) {
          if (entry.type !== 'aws:cdk:acknowledged-rules') continue;
          for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
            // CDK records acknowledgements in its annotation namespace; cdk-nag strips it again.
            acknowledgements.push({
              path: node.node.path,
              id: id.replace(/^Annotation::/, ''),
              reason,
            });
          }
        }
        for (const child of node.node.children) visit(child);
      };
      visit(synthesized.stack);
      expect(acknowledgements.length).toBeGreaterThan(0);
      for (const a of acknowledgements) {
        expect(a.id).toMatch(/^AwsSolutions-/);
        expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(60);
      }
      // IAM5 is only ever acknowledged for one named resource, never wholesale.
      expect(acknowledgements.filter((a) => a.id === 'AwsSolutions-IAM5')).toEqual([]);
    }
  });

  it('an unacknowledged finding fails synth (the check is live)', () => {
    expect(() =>
      synth(
        { mailboxes: [BASE_MAILBOX] },
        {
          extra: (stack) => {
            new s3.Bucket(stack, 'Careless');
          },
        },
      ),
    ).toThrow(/AwsSolutions-S1[^0-9][\s\S]*Careless/);
  });
});
