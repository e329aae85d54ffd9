/**
 * One chaos pull in a process of its own, so the runner can SIGKILL it at the byte the proxy picks.
 * Settings arrive as JSON in POPVAULT_CHAOS_CHILD; every progress event and every storage fault
 * that struck goes to stdout as a JSON line; the last line says how the run ended.
 */
import { randomUUID } from 'node:crypto';
import { localLeaseIdentity } from '../../functions/cli/run-identity.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import type { PullOptions } from '../../functions/core/pull/pull-options.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { type ArchiveLocation, openArchive } from './chaos-archive.js';
import type { StorageFault } from './fault-plan.js';
import { faultyArchive, faultyS3Client } from './storage-faults.js';

export interface ChaosChildConfig {
  archive: ArchiveLocation;
  options: PullOptions;
  user: string;
  password: string;
  spoolDirectory: string;
  storageFault: StorageFault | null;
}

const say = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
const fired = (description: string): void => say({ kind: 'storage-fault', description });
const config = JSON.parse(process.env.POPVAULT_CHAOS_CHILD ?? '') as ChaosChildConfig;
const archive = await openArchive(config.archive, (client) =>
  faultyS3Client(client, config.storageFault, fired),
);
const run = await runPull(
  {
    ...config.options,
    ...(archive.persistConcurrency === undefined
      ? {}
      : { persistConcurrency: archive.persistConcurrency }),
  },
  {
    ...faultyArchive(archive, config.storageFault, fired),
    credentials: { get: async () => ({ user: config.user, password: config.password }) },
    createParser: createMessageParser,
    spoolDirectory: config.spoolDirectory,
    now: Date.now,
    newRunId: randomUUID,
    leaseIdentity: localLeaseIdentity(),
    onProgress: (event) => say(event),
  },
);
say({ kind: 'done', outcome: run.outcome, errorCode: run.errorCode, counts: run.counts });
archive.close();
