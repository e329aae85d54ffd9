/**
 * What every real POP3 server lab gives the tests. Each server (Dovecot, Courier, Cyrus, GNU
 * Mailutils) has its own module under test/support that starts it on loopback with its own config,
 * users, mail store and TLS certificate, and implements this interface; the conformance suite
 * (test/servers/) runs the same checks against each.
 */
export type LabServerName = 'dovecot' | 'courier' | 'cyrus' | 'mailutils';

export interface LabAccount {
  user: string;
  password: string;
}

export interface Pop3Lab {
  readonly name: LabServerName;
  /** The server's own name and version, as its binary reports it (for the README's table). */
  readonly version: string;
  /** Always loopback; the certificate names 127.0.0.1 and localhost. */
  readonly host: string;
  /** Plain POP3 that offers STLS. */
  readonly plainPort: number;
  /** Implicit TLS (pop3s). */
  readonly tlsPort: number;
  /** The CA that signed the server certificate. */
  readonly caPem: string;
  /** A fresh account with an empty mailbox, never handed out twice by this lab. */
  createUser(): Promise<LabAccount>;
  /**
   * Delivers messages to the account's mailbox in order, the way mail reaches that server (a
   * Maildir file, LMTP, IMAP APPEND or the spool): message k of the list gets a higher message
   * number than every message delivered before it.
   */
  deliver(account: LabAccount, messages: readonly Buffer[]): Promise<void>;
  /**
   * The messages the server holds for the account, read from its own store (never over POP3), in
   * message-number order, each converted to the exact octets RETR serves for it (after
   * dot-unstuffing). Where the server changes a message between sessions (Mailutils writes X-UIDL
   * into the file), this is what it serves from then on.
   */
  stored(account: LabAccount): Promise<Buffer[]>;
  stop(): Promise<void>;
}
