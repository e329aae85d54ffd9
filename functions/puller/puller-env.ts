/** The puller's environment, set by the stack (each variable is paired with the grant that needs it). */
export interface PullerEnv {
  bucketName: string;
  tableName: string;
  /** Large messages are spooled here before upload (Lambda's /tmp). */
  spoolDirectory: string;
}

export class PullerEnvError extends Error {
  override name = 'PullerEnvError';
  readonly code = 'INVALID_ENVIRONMENT';
}

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name];
  if (!value) {
    throw new PullerEnvError(
      `environment variable ${name} is not set; the popvault stack sets it, so deploy with "npx cdk deploy"`,
    );
  }
  return value;
}

export function loadPullerEnv(env: Record<string, string | undefined>): PullerEnv {
  return {
    bucketName: required(env, 'POPVAULT_BUCKET'),
    tableName: required(env, 'POPVAULT_TABLE'),
    spoolDirectory: env.POPVAULT_SPOOL_DIR || '/tmp',
  };
}
