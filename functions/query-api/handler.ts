import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { loadApiEnv } from './api-env.js';
import { awsArchive, createApiHandler } from './create-api-handler.js';

// Loaded once per container: configuration errors surface at cold start, clients are reused.
const logger = new Logger({ serviceName: 'popvault-query-api' });

const env = loadApiEnv(process.env);

export const handler = createApiHandler({
  ...awsArchive(env, { s3: new S3Client({}), dynamo: new DynamoDBClient({}) }),
  authorization: env.authorization,
  logger: {
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    error: (message, attributes) => logger.error(message, attributes ?? {}),
  },
});
