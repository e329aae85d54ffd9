import { describe, expect, it } from 'vitest';
import { parseScheduledEvent, ScheduledEventError } from '../../functions/core/pull/pull-event.js';

function refusal(event: unknown, expected = 'personal'): ScheduledEventError {
  try {
    parseScheduledEvent(event, expected);
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduledEventError);
    expect((error as ScheduledEventError).code).toBe('INVALID_EVENT');
    return error as ScheduledEventError;
  }
  throw new Error(`accepted ${JSON.stringify(event)}`);
}

describe('scheduled event: only the mailbox id, and only this function’s', () => {
  it('accepts exactly {"mailboxId": <this function’s mailbox>}', () => {
    expect(parseScheduledEvent({ mailboxId: 'personal' }, 'personal')).toEqual({
      mailboxId: 'personal',
    });
  });

  it('threat: an invoker sends the work secret and their own server under mailbox "personal" — refused by field name, values never echoed', () => {
    const forged = {
      mailboxId: 'personal',
      host: 'pop.attacker.example',
      port: 995,
      tls: 'implicit',
      caPem: '-----BEGIN CERTIFICATE-----\nattacker\n-----END CERTIFICATE-----',
      secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:popvault/work-AbCdEf',
    };
    const error = refusal(forged);
    expect(error.message).toMatch(/"host".*"port".*"tls".*"caPem".*"secretId"/);
    expect(error.message).toContain('{"mailboxId":"personal"}');
    expect(error.message).not.toContain('attacker');
    expect(error.message).not.toContain('popvault/work');
  });

  it('threat: an event naming another mailbox is refused by this mailbox’s function', () => {
    expect(refusal({ mailboxId: 'work' }).message).toMatch(
      /names mailbox "work", but this function pulls only mailbox "personal"/,
    );
    expect(refusal({ mailboxId: 'unknown-box' }).message).toContain('"unknown-box"');
  });

  it('refuses anything that is not that object, and bounds what it echoes', () => {
    refusal('personal');
    refusal(null);
    refusal([{ mailboxId: 'personal' }]);
    refusal({});
    refusal({ mailboxId: 7 });
    refusal({ mailboxId: 'Personal' });
    expect(refusal({ mailboxId: 'x'.repeat(5000) }).message.length).toBeLessThan(600);
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, i]));
    expect(refusal({ mailboxId: 'personal', ...many }).message).toContain(', …');
  });
});
