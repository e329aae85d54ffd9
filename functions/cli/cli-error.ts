/**
 * Exit codes, so scripts and cron can tell outcomes apart without parsing output.
 */
export const EXIT = {
  ok: 0,
  /** A bug: something we did not expect. The message says where to report it. */
  internal: 1,
  /** Bad flags, config or arguments: fix the command line. */
  usage: 2,
  /** The run archived what it could; some messages failed and stay on the server. */
  partial: 3,
  /** The server is busy (in use, login delay, lease held, network): run again later. */
  retryLater: 4,
  /** The server or the token endpoint rejected the credentials. */
  credentials: 5,
  /** The run failed for another reason that needs a human (permanent server error, storage denied). */
  failed: 6,
} as const;

/** An error the user can fix, shown as one line (no stack trace) with its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.exitCode = exitCode;
  }
}
