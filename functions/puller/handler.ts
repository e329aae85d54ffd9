import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { journalDocument } from '../adapters/aws/search-journal.js';
import { WASM_SEGMENTS } from '../adapters/aws/sqlite-wasm-segments.js';
import { createMessageParser } from '../core/message/message-parser.js';
import { createPullerHandler } from './create-puller-handler.js';
import { loadPullerEnv } from './puller-env.js';
import { SecretsManagerReader } from './secrets-manager-reader.js';

// Loaded once per container: configuration errors surface at cold start, clients are reused.
const logger = new Logger({ serviceName: 'popvault-puller' });
const metrics = new Metrics({ namespace: 'Popvault', serviceName: 'puller' });

export const handler = createPullerHandler({
  env: loadPullerEnv(process.env),
  s3: new S3Client({}),
  dynamo: new DynamoDBClient({}),
  secrets: new SecretsManagerReader(new SecretsManagerClient({})),
  logger: {
    info: (message, attributes) => logger.info(message, attributes ?? {}),
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    error: (message, attributes) => logger.error(message, attributes ?? {}),
  },
  metrics,
  createParser: createMessageParser,
  search: { toDocument: journalDocument, format: WASM_SEGMENTS },
});
