import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { localLeaseIdentity, type ProcessProbe } from '../../functions/cli/run-identity.js';

const here: ProcessProbe = {
  host: 'laptop',
  bootId: 'boot-1',
  pid: 1000,
  exists: (pid) => pid === 2000,
};

describe('a local run proves a lease holder dead only when it certainly is', () => {
  const identity = localLeaseIdentity(here);

  it('writes host, boot, pid and run id into the lease owner', () => {
    expect(identity.ownerFor('r1')).toBe('local:laptop:boot-1:1000:r1');
  });

  it('a holder whose process is gone on this machine and boot is dead', () => {
    expect(identity.isProvablyDead('local:laptop:boot-1:3000:r0')).toBe(true);
  });

  it('a holder from an earlier boot of this machine is dead, even if its pid is in use again', () => {
    expect(identity.isProvablyDead('local:laptop:boot-0:2000:r0')).toBe(true);
  });

  it('a holder whose pid exists is not proved dead (it may be alive, or the pid reused)', () => {
    expect(identity.isProvablyDead('local:laptop:boot-1:2000:r0')).toBe(false);
  });

  it('a holder on another machine, a Lambda run, or this very process is never taken over', () => {
    expect(identity.isProvablyDead('local:other-host:boot-1:3000:r0')).toBe(false);
    expect(identity.isProvablyDead('3f1c2e1a-6d1b-4c8e-9c7e-2b1f0e9d8c7b')).toBe(false);
    expect(identity.isProvablyDead('local:laptop:boot-1:1000:r0')).toBe(false);
    expect(identity.isProvablyDead('local:laptop:boot-1:abc:r0')).toBe(false);
  });

  it('on the real machine: a child that has exited is dead, a running one is not', async () => {
    const real = localLeaseIdentity();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    });
    const pid = child.pid as number;
    const owner = real.ownerFor('r').replace(`:${process.pid}:`, `:${pid}:`);
    expect(real.isProvablyDead(owner)).toBe(false);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(real.isProvablyDead(owner)).toBe(true);
  });
});
