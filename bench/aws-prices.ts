/**
 * The public AWS list prices the cost model uses: us-east-1, on-demand, without free tiers (they
 * expire, or cover only the first account). Written down from AWS's public pricing pages as they
 * stood in 2025 (after DynamoDB's on-demand prices were halved in November 2024); the machine this
 * was last run on has no internet, so they were not compared with the pages again (PRICES_AS_OF).
 * Prices change: compare them with the pages before relying on the totals.
 */
export const PRICES_AS_OF =
  'AWS list prices for us-east-1 as published in 2025, not re-checked online';

export const PRICES = {
  /** Lambda on arm64 (the stack's functions). */
  lambdaPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  /** S3 Standard: PUT, COPY, POST and LIST requests. */
  s3PerThousandPutClass: 0.005,
  /** S3 Standard: GET, HEAD and other reads. */
  s3PerThousandGetClass: 0.0004,
  s3PerGbMonth: 0.023,
  /** DynamoDB on-demand, standard table class. */
  dynamoPerMillionWriteUnits: 0.625,
  dynamoPerMillionReadUnits: 0.125,
  dynamoPerGbMonth: 0.25,
  secretsPerSecretMonth: 0.4,
  secretsPerTenThousandCalls: 0.05,
  /** CloudWatch: each custom metric series (name + dimensions) that receives data in the month. */
  cloudwatchPerMetricMonth: 0.3,
  cloudwatchPerAlarmMonth: 0.1,
  cloudwatchLogsPerGbIngested: 0.5,
  /** EventBridge Scheduler: the first 14 million invocations a month are free. */
  schedulerFreeInvocations: 14_000_000,
  schedulerPerMillion: 1.0,
  /** API Gateway HTTP API, the first 300 million requests a month. */
  apiGatewayHttpPerMillion: 1.0,
} as const;

/** Requests S3 bills at the PUT price; every other S3 command counted is a read (DELETE is free). */
export const S3_PUT_CLASS = new Set([
  'PutObjectCommand',
  'CreateMultipartUploadCommand',
  'UploadPartCommand',
  'CompleteMultipartUploadCommand',
  'CopyObjectCommand',
  'ListObjectsV2Command',
]);
export const S3_FREE = new Set([
  'DeleteObjectCommand',
  'DeleteObjectsCommand',
  'AbortMultipartUploadCommand',
]);
