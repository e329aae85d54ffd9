/**
 * What running a bundle from cdk.out "as Lambda would" needs, shared by the deploy rehearsal test
 * and the cold-start benchmark: the environment Lambda and the template set (nothing inherited), a
 * stand-in Secrets Manager endpoint, and an API Gateway HTTP API v2 event.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AwsEmulatorInfo } from './emulators.js';

export interface LambdaFunctionShape {
  functionName: string;
  memorySize: unknown;
  runtime: unknown;
  handler: unknown;
  /** Directory of the bundle (LAMBDA_TASK_ROOT). */
  taskRoot: string;
}

/**
 * What Lambda sets, the emulator endpoints, and then the template's own variables: nothing from the
 * calling process, so a variable the code relies on but the stack forgot cannot hide.
 */
export function lambdaEnvironment(
  fn: LambdaFunctionShape,
  aws: AwsEmulatorInfo,
  secretsEndpoint: string,
  templateVariables: Record<string, string>,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    AWS_SESSION_TOKEN: 'rehearsal',
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize ?? 128),
    AWS_EXECUTION_ENV: `AWS_Lambda_${String(fn.runtime)}`,
    LAMBDA_TASK_ROOT: fn.taskRoot,
    _HANDLER: String(fn.handler),
    AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
    // s3rver stores aws-chunked framing verbatim (see test/support/emulators.ts).
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    ...templateVariables,
  };
}

/**
 * GetSecretValue over the JSON 1.1 protocol the SDK speaks, answering from `lookup` (read at each
 * request, so a test may change a secret between invocations); anything else is refused.
 */
export function startSecretsManagerStub(
  lookup: (secretId: string) => string | undefined,
  onRequest: (secretId: string) => void = () => {},
): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        res.statusCode = 400;
        res.end(
          JSON.stringify({ __type: 'InvalidRequestException', message: 'only GetSecretValue' }),
        );
        return;
      }
      const { SecretId } = JSON.parse(body || '{}') as { SecretId: string };
      onRequest(SecretId);
      const value = lookup(SecretId);
      if (value === undefined) {
        res.statusCode = 400;
        res.end(
          JSON.stringify({
            __type: 'ResourceNotFoundException',
            message: "Secrets Manager can't find the specified secret.",
          }),
        );
        return;
      }
      res.end(
        JSON.stringify({
          ARN: SecretId,
          Name: 'popvault-rehearsal',
          VersionId: randomUUID(),
          SecretString: value,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        }),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A GET as API Gateway's HTTP API (payload v2) delivers it, from an IAM-authorised caller. */
export function httpApiEvent(path: string) {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'rehearsal.execute-api.example', accept: 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'rehearsal',
      domainName: 'rehearsal.execute-api.example',
      domainPrefix: 'rehearsal',
      http: {
        method: 'GET',
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'rehearsal',
      },
      requestId: `req-${now}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      authorizer: {
        iam: {
          accessKey: 'AKIAREHEARSAL',
          accountId: '123456789012',
          callerId: 'AIDAREHEARSAL',
          principalOrgId: null,
          userArn: 'arn:aws:iam::123456789012:user/rehearsal',
          userId: 'AIDAREHEARSAL',
        },
      },
    },
    isBase64Encoded: false,
  };
}
