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

describe('scheduled event: refusals say exactly what is wrong', () => {
  it('a refusal is a ScheduledEventError by name, so logs and alarms can tell it apart', () => {
    expect(refusal({}).name).toBe('ScheduledEventError');
  });

  it('a string or number event is refused as "not a JSON object", not as a list of its characters', () => {
    for (const event of ['personal', 7, null, [{ mailboxId: 'personal' }]]) {
      expect(refusal(event).message).toMatch(
        /^the event must be a JSON object; send exactly \{"mailboxId":"personal"\}/,
      );
    }
  });

  it('an id of exactly 64 characters is echoed whole; a longer one is cut at 64 with an ellipsis', () => {
    const exact = 'a'.repeat(64);
    expect(refusal({ mailboxId: exact }).message).toContain(`mailbox "${exact}", but`);
    const long = `${'b'.repeat(64)}${'c'.repeat(100)}`;
    expect(refusal({ mailboxId: long }).message).toContain(`mailbox "${'b'.repeat(64)}…", but`);
  });

  it('one unknown field is named as "a field", two as "fields", comma-separated, without an ellipsis', () => {
    expect(refusal({ mailboxId: 'personal', host: 'x' }).message).toMatch(
      /^the event carries a field the puller does not take \("host"\); send exactly/,
    );
    expect(refusal({ mailboxId: 'personal', host: 'x', port: 1 }).message).toMatch(
      /^the event carries fields the puller does not take \("host", "port"\); send exactly/,
    );
  });

  it('exactly ten unknown fields are all named with no ellipsis; an eleventh is left out behind one', () => {
    const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}`, i]));
    expect(refusal(ten).message).toContain('"f8", "f9"); send');
    const eleven = { ...ten, f10: 10 };
    const message = refusal(eleven).message;
    expect(message).toContain('"f8", "f9", …); send');
    expect(message).not.toContain('"f10"');
  });
});
