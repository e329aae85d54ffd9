import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LeaseIdentity } from '../core/pull/pull-run.js';

/**
 * Who a local run is, as its mailbox lease records it: `local:<host>:<boot id>:<pid>:<run id>`.
 * With that, a later run on the same machine can prove the holder dead (killed, crashed, or the
 * machine rebooted since) and take the mailbox over at once, instead of waiting out the lease.
 */
const PREFIX = 'local';

export interface ProcessProbe {
  host: string;
  /** Linux's per-boot random id; null where the system has none. */
  bootId: string | null;
  pid: number;
  /** True if a process with this pid exists now (whoever owns it). */
  exists(pid: number): boolean;
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's. Only "no such process" proves it gone.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export function thisProcess(): ProcessProbe {
  return { host: hostname(), bootId: readBootId(), pid: process.pid, exists: processExists };
}

export function localLeaseIdentity(probe: ProcessProbe = thisProcess()): LeaseIdentity {
  const host = encodeURIComponent(probe.host);
  const boot = probe.bootId ?? '-';
  return {
    ownerFor: (runId) => `${PREFIX}:${host}:${boot}:${probe.pid}:${runId}`,
    isProvablyDead(owner) {
      const [prefix, ownerHost, ownerBoot, pidText] = owner.split(':');
      if (prefix !== PREFIX || ownerHost !== host || pidText === undefined) return false;
      const pid = Number(pidText);
      if (!Number.isSafeInteger(pid) || pid <= 0) return false;
      // Another boot of this machine: nothing from before the reboot still runs.
      if (ownerBoot !== '-' && boot !== '-' && ownerBoot !== boot) return true;
      // This process may run several pulls (a test, serve): never declare one of them dead.
      if (pid === probe.pid) return false;
      return !probe.exists(pid);
    },
  };
}
