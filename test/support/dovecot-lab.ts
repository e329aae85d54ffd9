import { randomBytes } from 'node:crypto';
import {
  type DovecotInfo,
  maildirFiles,
  seedMailbox,
  startDovecot,
  toWireForm,
  uniqueUser,
} from './dovecot.js';
import type { LabAccount, Pop3Lab } from './pop3-lab.js';

/**
 * Dovecot 2.3 as a Pop3Lab: a private instance of its own (not the run-wide one other tests share),
 * with `pop3_lock_session = yes` as a user who cares about one session per mailbox would set it.
 * Its static passdb takes one password for every user name, so "creating" a user is choosing a
 * fresh name; the home and Maildir appear on first delivery or login.
 */
export async function startDovecotLab(): Promise<Pop3Lab> {
  const { info, stop } = await startDovecot({ lockSession: true });
  let stopped: Promise<void> | null = null;
  return {
    name: 'dovecot',
    version: `Dovecot ${info.version.split(' ')[0] ?? info.version}`,
    host: info.host,
    plainPort: info.plainPort,
    tlsPort: info.tlsPort,
    caPem: info.caPem,
    async createUser(): Promise<LabAccount> {
      return { user: uniqueUser(`lab-${randomBytes(2).toString('hex')}`), password: info.password };
    },
    async deliver(account, messages) {
      seedMailbox(info, account.user, [...messages]);
    },
    async stored(account) {
      return storedInOrder(info, account.user);
    },
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}

/**
 * seedMailbox names files so that name order is delivery order, and Dovecot numbers messages in
 * that order; maildirContents reads new/ then cur/, so sort by the base name (before ":2,").
 */
function storedInOrder(info: DovecotInfo, user: string): Buffer[] {
  return maildirFiles(info, user)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((file) => toWireForm(file.data));
}
