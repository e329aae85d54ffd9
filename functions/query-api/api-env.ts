import { searchEnabled } from '../adapters/aws/search-env.js';
import { DEFAULT_MAILBOXES_CLAIM, type JwtAccessConfig } from './jwt-access.js';

/**
 * How the deployed API authorizes, as the stack configured API Gateway: with IAM the caller's policy
 * grants paths and the app serves whatever path it was let through; with JWT the app also reads the
 * token's claims (jwt-access.ts).
 */
export type ApiAuthorization = { kind: 'iam' } | ({ kind: 'jwt' } & JwtAccessConfig);

/** The query API's environment, set by the stack (each variable is paired with the grant that needs it). */
export interface ApiEnv {
  bucketName: string;
  tableName: string;
  authorization: ApiAuthorization;
  /** Search the per-mailbox segments in the bucket (POPVAULT_SEARCH); without it /search is 501. */
  search?: boolean;
}

export class ApiEnvError extends Error {
  override name = 'ApiEnvError';
  readonly code = 'INVALID_ENVIRONMENT';
}

const DEPLOY_HINT =
  'the popvault stack sets it on the query API function, so deploy with "npx cdk deploy"';

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name];
  if (!value) throw new ApiEnvError(`environment variable ${name} is not set; ${DEPLOY_HINT}`);
  return value;
}

/**
 * Missing or unknown settings stop the function at cold start: an API that guessed "no per-mailbox
 * checks" would serve every mailbox to every token.
 */
function loadAuthorization(env: Record<string, string | undefined>): ApiAuthorization {
  const kind = required(env, 'POPVAULT_API_AUTH');
  if (kind === 'iam') return { kind: 'iam' };
  if (kind !== 'jwt') {
    throw new ApiEnvError(
      `environment variable POPVAULT_API_AUTH is ${JSON.stringify(kind)}, not "iam" or "jwt"; ${DEPLOY_HINT}`,
    );
  }
  return {
    kind: 'jwt',
    mailboxesClaim: env.POPVAULT_JWT_MAILBOXES_CLAIM || DEFAULT_MAILBOXES_CLAIM,
    requiredScopes: (env.POPVAULT_JWT_REQUIRED_SCOPES ?? '').split(' ').filter((s) => s !== ''),
  };
}

export function loadApiEnv(env: Record<string, string | undefined>): ApiEnv {
  return {
    bucketName: required(env, 'POPVAULT_BUCKET'),
    tableName: required(env, 'POPVAULT_TABLE'),
    authorization: loadAuthorization(env),
    // Absent rather than false, so a stack deployed before search reads as it did.
    ...(searchEnabled(env) ? { search: true } : {}),
  };
}
