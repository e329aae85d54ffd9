/**
 * Threat: a password sent in clear across a network. Plaintext POP3 is allowed only with the explicit
 * insecure flag and only to this machine; these cases pin down what "this machine" means, address by
 * address, from the mutants that survived without them (any IPv4 literal, or any IPv6 one, counted
 * as loopback; "localhost" not recognised).
 */
import { describe, expect, it } from 'vitest';
import { Pop3UsageError } from '../../functions/core/pop3/errors.js';
import { assertTransportAllowed, isLoopbackAddress } from '../../functions/core/pop3/transport.js';

function refusal(host: string, insecure: boolean): Pop3UsageError | null {
  try {
    assertTransportAllowed({ host, port: 110, tls: 'none', insecure, connectTimeoutMs: 1_000 });
    return null;
  } catch (err) {
    if (err instanceof Pop3UsageError) return err;
    throw err;
  }
}

describe('plaintext POP3 to this machine only', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '::ffff:127.0.0.1',
    '::FFFF:127.0.0.2',
    'localhost',
    'LocalHost',
  ])('%s is loopback: allowed with the insecure flag', (host) => {
    expect(refusal(host, true)).toBeNull();
  });

  it.each([
    '10.0.0.1',
    '192.0.2.1',
    '128.0.0.1',
    '1.127.0.0',
    '::2',
    '::ffff:10.0.0.1',
    '2001:db8::1',
    'fe80::1',
    'pop.example.com',
    'localhost.example.com',
    '127.0.0.1.example.com',
    // Not an address at all, only shaped like an IPv4-mapped loopback one.
    '::ffff:127.0.0.1.example.com',
  ])(
    '%s is not loopback: refused even with the insecure flag, naming the host and the fix',
    (host) => {
      const err = refusal(host, true);
      expect(err?.code).toBe('INSECURE_REFUSED');
      expect(err?.message).toContain(`non-loopback host ${host}`);
      expect(err?.message).toContain('use tls "implicit" or "starttls"');
    },
  );

  it('loopback without the insecure flag is refused, saying which option allows it', () => {
    const err = refusal('127.0.0.1', false);
    expect(err?.code).toBe('INSECURE_REFUSED');
    expect(err?.message).toContain('needs the explicit insecure option');
  });

  it('TLS modes are never refused here, whatever the host', () => {
    for (const tls of ['implicit', 'starttls'] as const) {
      expect(() =>
        assertTransportAllowed({ host: '192.0.2.1', port: 995, tls, connectTimeoutMs: 1_000 }),
      ).not.toThrow();
    }
  });

  it('an address the socket reports is loopback only in 127/8, ::1 and its IPv4-mapped form', () => {
    expect(isLoopbackAddress('127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('192.168.1.1')).toBe(false);
    expect(isLoopbackAddress('::ffff:192.168.1.1')).toBe(false);
    expect(isLoopbackAddress('')).toBe(false);
    expect(isLoopbackAddress('localhost')).toBe(false);
  });
});
