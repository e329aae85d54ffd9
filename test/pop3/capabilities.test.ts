import { describe, expect, it } from 'vitest';
import { Capabilities } from '../../functions/core/pop3/capabilities.js';

describe('CAPA listings real servers send', () => {
  it("GNU Mailutils' malformed EXPIRENEVER (no space) is not read as EXPIRE, let alone EXPIRE 0", () => {
    const caps = new Capabilities([
      'TOP',
      'UIDL',
      'RESP-CODES',
      'PIPELINING',
      'EXPIRENEVER',
      'USER',
    ]);
    expect(caps.has('EXPIRE')).toBe(false);
    expect(caps.expiresImmediately).toBe(false);
  });

  it("Cyrus' EXPIRE NEVER keeps retrieved mail; EXPIRE 0 does not", () => {
    expect(new Capabilities(['EXPIRE NEVER']).expiresImmediately).toBe(false);
    expect(new Capabilities(['EXPIRE 0']).expiresImmediately).toBe(true);
  });

  it("Courier's UTF8 USER is UTF8 with the USER argument, whatever the case", () => {
    const caps = new Capabilities(['utf8 user', 'LOGIN-DELAY 10']);
    expect(caps.has('UTF8')).toBe(true);
    expect(caps.args('UTF8')).toEqual(['user']);
    expect(caps.args('LOGIN-DELAY')).toEqual(['10']);
  });
});

describe('CAPA listings a sloppy or hostile server sends', () => {
  it('a server without CAPA has no capabilities at all, not a made-up one', () => {
    const caps = new Capabilities(null);
    expect(caps.supported).toBe(false);
    expect(caps.lines).toEqual([]);
    expect(caps.saslMechanisms.size).toBe(0);
    expect(caps.args('SASL')).toEqual([]);
  });

  it('padding around and between words does not invent empty tags or mechanisms', () => {
    const caps = new Capabilities(['  SASL   PLAIN\tXOAUTH2  ', 'EXPIRE  0', '', '   ']);
    expect(caps.has('SASL')).toBe(true);
    expect([...caps.saslMechanisms]).toEqual(['PLAIN', 'XOAUTH2']);
    // "EXPIRE  0" still says the server deletes retrieved mail by itself.
    expect(caps.expiresImmediately).toBe(true);
    expect(caps.has('')).toBe(false);
  });

  it('an unknown tag has no arguments', () => {
    expect(new Capabilities(['TOP']).args('SASL')).toEqual([]);
  });
});
