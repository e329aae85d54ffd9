import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import {
  backfillKey,
  MANIFEST_PREFIX,
  manifestKey,
  pendingPrefix,
  SEGMENTS_PREFIX,
  segmentsPrefix,
} from '../../functions/adapters/aws/search-keys.js';
import { encodeKeySegment } from '../../functions/core/archive/raw-object-key.js';
import type { ArchiveConfig, StorageClassName } from '../config/load-config.js';
import { acknowledgeWildcardResource, nagArnOf } from './nag.js';

/** Every raw object's key starts with this (rawObjectKey). */
const RAW_PREFIX = 'raw/';

export interface MailBucketProps {
  archive: ArchiveConfig;
}

/**
 * The raw-mail bucket, and the bucket its access logs go to.
 *
 * Defaults: Block Public Access on, TLS 1.2+ only, S3-managed encryption (a customer-managed KMS key
 * with yearly rotation when `archive.encryption` is "kms"), versioning on, noncurrent versions expire
 * after `archive.noncurrentVersionDays`, incomplete multipart uploads are aborted after 7 days,
 * optional transition and Object Lock, access logs kept `archive.accessLogDays`. Both buckets and the
 * key are RETAINed: deleting the stack never deletes mail.
 */
export class MailBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly key: kms.Key | null;

  constructor(scope: Construct, id: string, props: MailBucketProps) {
    super(scope, id);
    const { archive } = props;

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Server access logging can only deliver to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(archive.accessLogDays) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the access-log bucket itself; logging its own access would log the log deliveries, without end.',
    });

    this.key =
      archive.encryption === 'kms'
        ? new kms.Key(this, 'Key', {
            description: 'popvault: encrypts archived raw mail',
            enableKeyRotation: true,
            // Without the key the archive is unreadable, so it outlives the stack like the bucket.
            removalPolicy: RemovalPolicy.RETAIN,
          })
        : null;

    const lifecycle: s3.LifecycleRule = {
      id: 'versions-and-uploads',
      // The puller never overwrites or deletes (keys are content digests, writes are create-only), so
      // noncurrent versions only come from someone deleting by hand: this is their undo window.
      noncurrentVersionExpiration: Duration.days(archive.noncurrentVersionDays),
      // The puller may not delete objects, so parts of an upload cut off by a timeout are removed here.
      abortIncompleteMultipartUploadAfter: Duration.days(7),
      expiredObjectDeleteMarker: true,
    };
    const rules: s3.LifecycleRule[] = [lifecycle];
    if (archive.transition) {
      rules.push({
        id: 'transition',
        transitions: [
          {
            storageClass: storageClassOf(archive.transition.storageClass),
            transitionAfter: Duration.days(archive.transition.afterDays),
          },
        ],
      });
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      ...(this.key
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: this.key, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      versioned: true,
      lifecycleRules: rules,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'mail/',
      ...(archive.objectLock
        ? {
            // Object Lock can only be switched on when the bucket is created: decide before the
            // first deploy.
            objectLockEnabled: true,
            objectLockDefaultRetention:
              archive.objectLock.mode === 'compliance'
                ? s3.ObjectLockRetention.compliance(Duration.days(archive.objectLock.days))
                : s3.ObjectLockRetention.governance(Duration.days(archive.objectLock.days)),
          }
        : {}),
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * What one mailbox's pull run needs, and only under that mailbox's own `raw/<mailbox>/` prefix:
   * - PutObject and CompleteMultipartUpload only with `If-None-Match` (the `s3:if-none-match`
   *   condition key is present), so the policy itself makes the writes create-only: no role
   *   credentials, however obtained, can overwrite archived mail;
   * - CreateMultipartUpload and UploadPart, which S3 also authorises as s3:PutObject but which carry
   *   no conditional header (`s3:ObjectCreationOperation` is false for them), and which create
   *   nothing until a conditional Complete;
   * - AbortMultipartUpload, for its own failed uploads.
   * Never GetObject, DeleteObject or ListBucket: the store reads nothing back (see
   * functions/adapters/aws/s3-raw-store.ts). The key layout is rawObjectKey's.
   */
  grantPullerWrite(grantee: iam.IGrantable, mailboxId: string): void {
    const objects = this.bucket.arnForObjects(`${RAW_PREFIX}${encodeKeySegment(mailboxId)}/*`);
    const principal = grantee.grantPrincipal;
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CreateRawMailOnly',
        actions: ['s3:PutObject'],
        resources: [objects],
        conditions: { Null: { 's3:if-none-match': 'false' } },
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UploadRawMailParts',
        actions: ['s3:PutObject'],
        resources: [objects],
        conditions: { Bool: { 's3:ObjectCreationOperation': 'false' } },
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AbortRawMailUploads',
        actions: ['s3:AbortMultipartUpload'],
        resources: [objects],
      }),
    );
    // Multipart uploads to SSE-KMS need Decrypt as well as GenerateDataKey.
    this.grantKey(grantee, ['kms:GenerateDataKey', 'kms:Decrypt']);
    acknowledgeWildcardResource(
      principal as unknown as IConstruct,
      `${nagArnOf(this.bucket)}/${RAW_PREFIX}${encodeKeySegment(mailboxId)}/*`,
      "Object keys are content digests known only at run time, so writes must cover every key under this one mailbox's prefix. No list or delete is granted, a read only for the search backfill (grantPullerSearch), and the policy allows creating objects only with If-None-Match (create-only).",
    );
  }

  /**
   * What one mailbox's search flush needs (functions/adapters/aws/search-flush.ts), only under that
   * mailbox's own search keys (functions/adapters/aws/search-keys.ts): read, write and delete its
   * pending documents, its segments and its manifest, and list those prefixes (the flush finds
   * pending documents and stray segments by listing, and lists the manifest's key before reading
   * it, see readManifest). The backfill state is read and written the same way (a missing one must
   * read as missing, not denied, so its key is listable too). The mailbox's own raw mail is readable,
   * for the backfill that reads back mail archived before search (search-backfill.ts), but never
   * changed: it stays create-only. KMS use is the one grantPullerWrite gives (encrypt and decrypt
   * via S3).
   */
  grantPullerSearch(grantee: iam.IGrantable, mailboxId: string): void {
    const pending = `${pendingPrefix(mailboxId)}*`;
    const segments = `${segmentsPrefix(mailboxId)}*`;
    const manifest = manifestKey(mailboxId);
    const backfill = backfillKey(mailboxId);
    const principal = grantee.grantPrincipal;
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SearchIndexObjects',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [pending, segments, manifest, backfill].map((key) =>
          this.bucket.arnForObjects(key),
        ),
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRawMailForSearchBackfill',
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${RAW_PREFIX}${encodeKeySegment(mailboxId)}/*`)],
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListSearchIndex',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [pending, segments, manifest, backfill] } },
      }),
    );
    for (const key of [pending, segments]) {
      acknowledgeWildcardResource(
        principal as unknown as IConstruct,
        `${nagArnOf(this.bucket)}/${key}`,
        "Pending documents are named by message and segments by a random id, known only at run time; this covers only this one mailbox's search index, never its raw mail.",
      );
    }
  }

  /**
   * What the query API's search needs: read any mailbox's manifest and segments (the app limits
   * each request to the caller's mailboxes before it reads one). No s3:ListBucket: it would let the
   * function list every mailbox's raw keys. Without it S3 answers a GET of a missing key with 403,
   * so the search takes a manifest or segment it is refused as absent
   * (functions/adapters/aws/s3-archive-search.ts).
   */
  grantApiSearchRead(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSearchIndex',
        actions: ['s3:GetObject'],
        resources: [`${MANIFEST_PREFIX}*`, `${SEGMENTS_PREFIX}*`].map((key) =>
          this.bucket.arnForObjects(key),
        ),
      }),
    );
    for (const prefix of [MANIFEST_PREFIX, SEGMENTS_PREFIX]) {
      acknowledgeWildcardResource(
        principal as unknown as IConstruct,
        `${nagArnOf(this.bucket)}/${prefix}*`,
        'The API searches whichever mailboxes the caller may read; manifests and segments are read-only here, and the app scopes each request to its mailboxes.',
      );
    }
  }

  /** What the query API needs: read objects (its presigned GET URLs are signed with its role). */
  grantApiRead(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRawMail',
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${RAW_PREFIX}*`)],
      }),
    );
    this.grantKey(grantee, ['kms:Decrypt']);
    acknowledgeWildcardResource(
      grantee.grantPrincipal as unknown as IConstruct,
      `${nagArnOf(this.bucket)}/${RAW_PREFIX}*`,
      'The API serves any archived message of this one bucket by its content-digest key under raw/; GetObject is its only S3 action.',
    );
  }

  private grantKey(grantee: iam.IGrantable, actions: string[]): void {
    if (!this.key) return;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MailKeyViaS3',
        actions,
        resources: [this.key.keyArn],
        // Only S3 may use the key on the function's behalf: a leaked role cannot decrypt directly.
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` },
        },
      }),
    );
  }
}

function storageClassOf(name: StorageClassName): s3.StorageClass {
  switch (name) {
    case 'STANDARD_IA':
      return s3.StorageClass.INFREQUENT_ACCESS;
    case 'INTELLIGENT_TIERING':
      return s3.StorageClass.INTELLIGENT_TIERING;
    case 'GLACIER_IR':
      return s3.StorageClass.GLACIER_INSTANT_RETRIEVAL;
  }
}
