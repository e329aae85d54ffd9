/** The query API's environment, set by the stack (each variable is paired with the grant that needs it). */
export interface ApiEnv {
  bucketName: string;
  tableName: string;
}

export class ApiEnvError extends Error {
  override name = 'ApiEnvError';
  readonly code = 'INVALID_ENVIRONMENT';
}

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name];
  if (!value) {
    throw new ApiEnvError(
      `environment variable ${name} is not set; the popvault stack sets it on the query API function, so deploy with "npx cdk deploy"`,
    );
  }
  return value;
}

export function loadApiEnv(env: Record<string, string | undefined>): ApiEnv {
  return {
    bucketName: required(env, 'POPVAULT_BUCKET'),
    tableName: required(env, 'POPVAULT_TABLE'),
  };
}
