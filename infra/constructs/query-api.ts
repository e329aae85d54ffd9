import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SEARCH_S3_SEGMENTS, SEARCH_VARIABLE } from '../../functions/adapters/aws/search-env.js';
import type { ApiConfig } from '../config/load-config.js';
import type { ArchiveTable } from './archive-table.js';
import type { MailBucket } from './mail-bucket.js';
import { NodeFunction } from './node-function.js';

export const QUERY_API_ENTRY = 'functions/query-api/handler.ts';

export interface QueryApiProps {
  config: ApiConfig;
  mailBucket: MailBucket;
  archiveTable: ArchiveTable;
}

/**
 * The query API: an HTTP API whose single `$default` route sends every request to the API function,
 * behind an authorizer, so no path is reachable unauthenticated.
 *
 * Who reads which mailbox:
 * - IAM (`api.auth` "iam", the default): the caller's IAM policy grants paths. To grant one mailbox,
 *   allow `execute-api:Invoke` on
 *   `arn:aws:execute-api:<region>:<account>:<api-id>/$default/GET/mailboxes/<mailbox-id>/*`
 *   (and the same with HEAD for HEAD requests). That covers the mailbox's listing, runs, and each
 *   message, its raw bytes and attachments by `/mailboxes/<mailbox-id>/messages/<id>...`; the app
 *   answers 404 when the id names a message of another mailbox. `GET/mailboxes` (every mailbox's
 *   counts and last run), `GET/messages` (Message-ID lookup) and `GET/messages/*` (messages by id
 *   alone) name no mailbox, so a grant of any of them is a grant of the whole archive: give them only
 *   to callers who may read every mailbox.
 * - JWT (`api.auth` "jwt"): API Gateway checks issuer, audience and, with `api.jwt.requiredScopes`,
 *   that the token carries at least one of those scopes; the app then requires all of them, and
 *   serves only the mailboxes named in the token's `api.jwt.mailboxesClaim` claim, on every route
 *   (functions/query-api/jwt-access.ts). A mailbox outside the claim is answered like one that does
 *   not exist.
 *
 * Defaults: IAM (SigV4) authorization, stage throttling at 10 requests/s with bursts of 20, JSON access logs (who, what, status,
 * latency, authorizer errors) kept 90 days and RETAINed as the audit trail of who read mail, a
 * read-only function (1 GiB, 10 s: it reads the index and signs URLs, never streams mail itself).
 */
export class QueryApi extends Construct {
  readonly function: NodeFunction;
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);
    const { config } = props;

    this.function = new NodeFunction(this, 'Handler', {
      entry: QUERY_API_ENTRY,
      description: 'read-only query API over the archive',
      // 1 GiB: search opens FTS5 segments in WebAssembly memory (search-segment-cache.ts keeps up
      // to 128 MiB of them open), and Lambda's CPU share grows with memory.
      memorySize: 1024,
      // Below the HTTP API's 30 s integration limit, so a slow call ends as our error, not a 503.
      timeout: Duration.seconds(10),
      logRetention: logs.RetentionDays.THREE_MONTHS,
      environment: {
        // Paired with mailBucket.grantApiRead below (object reads; presigned GETs use this role).
        POPVAULT_BUCKET: props.mailBucket.bucket.bucketName,
        // Paired with archiveTable.grantApiRead below.
        POPVAULT_TABLE: props.archiveTable.table.tableName,
        // Paired with mailBucket.grantApiSearchRead below: manifests and segments, cached in /tmp.
        [SEARCH_VARIABLE]: SEARCH_S3_SEGMENTS,
        // The app's half of the authorizer below: which mailboxes each request may read.
        POPVAULT_API_AUTH: config.auth.kind,
        ...(config.auth.kind === 'jwt'
          ? {
              POPVAULT_JWT_MAILBOXES_CLAIM: config.auth.mailboxesClaim,
              ...(config.auth.requiredScopes.length > 0
                ? { POPVAULT_JWT_REQUIRED_SCOPES: config.auth.requiredScopes.join(' ') }
                : {}),
            }
          : {}),
      },
    });
    // GetObject under raw/ only: the API reads nothing else of the bucket, and lists nothing.
    props.mailBucket.grantApiRead(this.function.fn);
    props.archiveTable.grantApiRead(this.function.fn);
    props.mailBucket.grantApiSearchRead(this.function.fn);

    const authorizer =
      config.auth.kind === 'jwt'
        ? new authorizers.HttpJwtAuthorizer('Jwt', config.auth.issuer, {
            jwtAudience: config.auth.audience,
          })
        : new authorizers.HttpIamAuthorizer();

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'popvault query API',
      defaultIntegration: new integrations.HttpLambdaIntegration('Query', this.function.fn),
      defaultAuthorizer: authorizer,
      // API Gateway refuses a token with none of these before the function runs (it accepts any one
      // of a route's scopes); the app then requires every one.
      ...(config.auth.kind === 'jwt' && config.auth.requiredScopes.length > 0
        ? { defaultAuthorizationScopes: config.auth.requiredScopes }
        : {}),
      // The stage is declared below, with throttling and access logs.
      createDefaultStage: false,
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.accessLogRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new apigw.HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.throttle.rateLimit, burstLimit: config.throttle.burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.caller',
            user: '$context.identity.userArn',
            jwtSubject: '$context.authorizer.claims.sub',
            method: '$context.httpMethod',
            path: '$context.path',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            authorizerError: '$context.authorizer.error',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
  }

  /** The base URL callers use (the `$default` stage is served at the root). */
  get url(): string {
    return this.stage.url;
  }
}
