import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRawStore } from '../../functions/adapters/local/local-raw-store.js';
import { SqliteMessageIndex } from '../../functions/adapters/local/sqlite-message-index.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { CYRUS_DEBIAN_LOGIN_DELAY_REPLY, startCyrusLab } from '../support/cyrus-lab.js';
import type { LabAccount, Pop3Lab } from '../support/pop3-lab.js';
import { describeConformance } from './conformance.js';

describe('Cyrus POP3 conformance', () => {
  describeConformance('cyrus', startCyrusLab);
});

describe("Cyrus with Debian's own login delay (popminpoll: 1)", () => {
  let lab: Pop3Lab;
  beforeAll(async () => {
    lab = await startCyrusLab({ popminpollMinutes: 1 });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  function pull(account: LabAccount) {
    const directory = mkdtempSync(join(tmpdir(), 'popvault-cyrus-delay-'));
    return runPull(
      {
        mailboxId: `cyrus-delay-${account.user}`,
        server: { host: lab.host, port: lab.tlsPort, tls: 'implicit', ca: lab.caPem },
        policy: { kind: 'keep' },
        hardDeadline: Date.now() + 60_000,
      },
      {
        rawStore: new LocalRawStore({ directory: join(directory, 'mail') }),
        index: new SqliteMessageIndex({ path: join(directory, 'index.sqlite') }),
        credentials: { get: async () => ({ user: account.user, password: account.password }) },
        createParser: createMessageParser,
        spoolDirectory: directory,
        now: Date.now,
        newRunId: () => `delay-${Math.random()}`,
      },
    );
  }

  it('a second pull within the minute ends retry-later with LOGIN_DELAY, not failed', async () => {
    const account = await lab.createUser();
    await lab.deliver(account, [Buffer.from('Subject: one\n\nbody\n')]);
    const first = await pull(account);
    expect(first.outcome).toBe('success');
    const second = await pull(account);
    expect(second.outcome).toBe('retry-later');
    expect(second.errorCode).toBe('LOGIN_DELAY');
    expect(second.errorMessage).toContain(CYRUS_DEBIAN_LOGIN_DELAY_REPLY.replace(/^-ERR /, ''));
  });
});
