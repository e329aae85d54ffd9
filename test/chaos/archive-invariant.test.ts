/**
 * The chaos runner is only as good as its invariant check: a checker that passed everything would
 * make 500 clean runs mean nothing. Each case here breaks the archive the way a bug would, in a real
 * local archive, and the check must name it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { EMPTY_METADATA } from '../../functions/core/message/empty-metadata.js';
import type { LabAccount, Pop3Lab } from '../support/pop3-lab.js';
import { checkMailbox, type MailboxLedger, sha256 } from './archive-invariant.js';
import { type OpenedArchive, openArchive } from './chaos-archive.js';

const MAILBOX = 'invariant';
let archive: OpenedArchive | null = null;
let directory = '';

afterEach(() => archive?.close());

async function open(): Promise<OpenedArchive> {
  directory = join(mkdtempSync(join(tmpdir(), 'popvault-invariant-')), 'archive');
  archive = await openArchive({ kind: 'local', directory });
  return archive;
}

function mail(id: string): Buffer {
  return Buffer.from(`Message-ID: <${id}>\r\nSubject: ${id}\r\n\r\nbody of ${id}\r\n`);
}

/** A server that holds exactly `held`, as its store would say. */
function labHolding(held: () => Buffer[]): Pop3Lab {
  return { stored: async () => held() } as unknown as Pop3Lab;
}

function ledger(messages: Buffer[]): MailboxLedger {
  const account: LabAccount = { user: 'u', password: 'p' };
  return {
    mailboxId: MAILBOX,
    account,
    expected: new Map(messages.map((m, i) => [`m${i}`, m])),
  };
}

async function archiveMessage(target: OpenedArchive, message: Buffer, messageKey: string) {
  const hash = sha256(message);
  const ref = await target.rawStore.put({
    mailboxId: MAILBOX,
    sha256: hash,
    octets: message.length,
    source: { kind: 'buffer', data: message },
  });
  const record: MessageRecord = {
    ...EMPTY_METADATA,
    mailboxId: MAILBOX,
    messageKey,
    uidl: messageKey,
    octets: message.length,
    sha256: hash,
    rawKey: ref.key,
    archivedAt: new Date().toISOString(),
    runId: 'run-1',
    deletedFromServerAt: null,
  };
  await target.index.putMessage(record);
  return record;
}

describe('the chaos invariant names every way the archive can be wrong', () => {
  it('passes an archive holding every message that left the server, once', async () => {
    const target = await open();
    const [a, b] = [mail('m0'), mail('m1')];
    await archiveMessage(target, a, 'u0');
    const state = await checkMailbox(
      labHolding(() => [b]),
      target,
      ledger([a, b]),
    );
    expect(state).toMatchObject({ violations: [], onServer: 1, archived: 1, lost: [] });
  });

  it('a message that left the server unarchived is lost', async () => {
    const target = await open();
    const state = await checkMailbox(
      labHolding(() => []),
      target,
      ledger([mail('m0')]),
    );
    expect(state.lost).toEqual(['m0']);
    expect(state.violations.join('\n')).toContain('left the server but is not archived');
  });

  it('a message archived with other bytes than the server served is lost', async () => {
    const target = await open();
    const served = mail('m0');
    await archiveMessage(target, Buffer.concat([served, Buffer.from('x')]), 'u0');
    const state = await checkMailbox(
      labHolding(() => []),
      target,
      ledger([served]),
    );
    expect(state.lost).toEqual(['m0']);
    expect(state.violations.join('\n')).toContain('the server never served');
  });

  it('a message indexed under two keys is duplicated', async () => {
    const target = await open();
    const a = mail('m0');
    await archiveMessage(target, a, 'u0');
    await archiveMessage(target, a, 'u0-again');
    const state = await checkMailbox(
      labHolding(() => []),
      target,
      ledger([a]),
    );
    expect(state.duplicated).toEqual(['m0']);
  });

  it('an index record whose raw object is missing is named', async () => {
    const target = await open();
    const a = mail('m0');
    const record = await archiveMessage(target, a, 'u0');
    const other = await archiveMessage(target, mail('m1'), 'u1');
    // The record points at a key nothing was ever written to.
    await target.index.putMessage({ ...record, messageKey: 'u2', rawKey: `${other.rawKey}x` });
    const state = await checkMailbox(
      labHolding(() => []),
      target,
      ledger([a, mail('m1')]),
    );
    expect(state.violations.join('\n')).toContain('lacks its raw object');
  });

  it('a half-written raw object (its bytes do not hash to its key) is named', async () => {
    const target = await open();
    const a = mail('m0');
    const record = await archiveMessage(target, a, 'u0');
    writeFileSync(join(directory, 'mail', ...record.rawKey.split('/')), a.subarray(0, 10));
    const state = await checkMailbox(
      labHolding(() => []),
      target,
      ledger([a]),
    );
    expect(state.violations.join('\n')).toContain('half-written');
    expect(state.violations.join('\n')).toContain('its raw object');
  });
});
