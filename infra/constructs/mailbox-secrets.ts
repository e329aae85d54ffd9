import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { MailboxConfig } from '../config/load-config.js';

export interface MailboxSecret {
  mailbox: MailboxConfig;
  secret: secretsmanager.ISecret;
  /** True when this stack created it (and so deletes it, with Secrets Manager's recovery window). */
  created: boolean;
  /** The key encrypting a referenced secret, when the config names one. */
  key: kms.IKey | null;
}

/**
 * The value a created secret holds until the user sets it. It parses as JSON but not as a mailbox
 * secret, so the puller stops with SECRET_INVALID before it ever connects: a random password here
 * would be sent to the server and could lock the account.
 *
 * Never change this text: CloudFormation regenerates the value when the template changes, which would
 * overwrite credentials the user has set.
 */
export const UNSET_SECRET_TEMPLATE = JSON.stringify({
  kind: 'not-set',
  howToSet: 'run the put-secret-value command from the popvault stack outputs',
});

/**
 * One Secrets Manager secret per mailbox: created (with a not-set placeholder) unless the mailbox
 * names an existing one by ARN. Defaults: the account's default `aws/secretsmanager` key, no
 * rotation, created secrets scheduled for deletion (30-day recovery window) when removed from the
 * stack.
 */
export class MailboxSecrets extends Construct {
  readonly byMailbox: ReadonlyMap<string, MailboxSecret>;

  constructor(scope: Construct, id: string, props: { mailboxes: readonly MailboxConfig[] }) {
    super(scope, id);
    const byMailbox = new Map<string, MailboxSecret>();
    for (const mailbox of props.mailboxes) {
      if (mailbox.secretArn !== null) {
        const secret = secretsmanager.Secret.fromSecretCompleteArn(
          this,
          `Existing-${mailbox.id}`,
          mailbox.secretArn,
        );
        const key =
          mailbox.secretKmsKeyArn === null
            ? null
            : kms.Key.fromKeyArn(this, `ExistingKey-${mailbox.id}`, mailbox.secretKmsKeyArn);
        byMailbox.set(mailbox.id, { mailbox, secret, created: false, key });
        continue;
      }
      const secret = new secretsmanager.Secret(this, `Secret-${mailbox.id}`, {
        description: `popvault: credentials of mailbox ${mailbox.id}`,
        generateSecretString: {
          secretStringTemplate: UNSET_SECRET_TEMPLATE,
          generateStringKey: 'placeholder',
          excludePunctuation: true,
        },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'A POP3 password or OAuth2 client secret is issued by the mail provider; Secrets Manager cannot rotate it there. Refresh tokens are renewed by the provider at use.',
      });
      byMailbox.set(mailbox.id, { mailbox, secret, created: true, key: null });
    }
    this.byMailbox = byMailbox;
  }

  /**
   * GetSecretValue on exactly one mailbox's secret (by ARN, no wildcard), and Decrypt on the
   * customer key protecting it when it is a referenced one, only through Secrets Manager. Each
   * mailbox's puller gets its own grant, so a run of one mailbox cannot read another's credentials.
   */
  grantRead(grantee: iam.IGrantable, mailboxId: string): void {
    const entry = this.byMailbox.get(mailboxId);
    if (!entry) throw new Error(`no secret for mailbox ${mailboxId}: it is not in the config`);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadMailboxSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [entry.secret.secretArn],
      }),
    );
    if (entry.key) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptMailboxSecret',
          actions: ['kms:Decrypt'],
          resources: [entry.key.keyArn],
          conditions: {
            StringEquals: {
              'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com`,
            },
          },
        }),
      );
    }
  }
}
