import { describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { SecretScrubber } from '../../functions/core/pop3/secret-scrubber.js';
import { expectPop3Error, scripted, scriptedOptions } from '../support/pop3-test-kit.js';

const PASSWORD = 'Tr0ub4dor&3-horse';

/** Every form a server could echo a password back in. */
const ECHOES: Record<string, (secret: string) => string> = {
  verbatim: (s) => s,
  'upper-cased': (s) => s.toUpperCase(),
  'lower-cased': (s) => s.toLowerCase(),
  base64: (s) => Buffer.from(s).toString('base64'),
  'base64 without padding': (s) => Buffer.from(s).toString('base64').replace(/=+$/, ''),
  base64url: (s) => Buffer.from(s).toString('base64url'),
  hex: (s) => Buffer.from(s).toString('hex'),
  'upper-case hex': (s) => Buffer.from(s).toString('hex').toUpperCase(),
};

describe('a server echoing the password in its -ERR never gets it into an error or a trace', () => {
  for (const [form, encode] of Object.entries(ECHOES)) {
    it(`echoed ${form} after PASS`, async () => {
      const server = await scripted({
        handlers: { PASS: (ctx) => ctx.err(`[AUTH] wrong password ${encode(ctx.args)} for you`) },
      });
      const traced: string[] = [];
      const err = await expectPop3Error(
        Pop3Client.connect(
          scriptedOptions(server, {
            credentials: { user: 'alice', password: PASSWORD, method: 'user' },
            trace: (_direction, line) => traced.push(line),
          }),
        ),
        'AUTH_FAILED',
      );
      const everything = `${err.message} ${JSON.stringify(err)} ${traced.join('\n')}`;
      expect(everything).toContain('wrong password *** for you');
      expect(everything).not.toContain(encode(PASSWORD));
    });
  }

  it('echoed base64 inside the SASL PLAIN response it was sent', async () => {
    const server = await scripted({
      capabilities: ['USER', 'SASL PLAIN'],
      handlers: { AUTH: (ctx) => ctx.err(`[AUTH] cannot decode ${ctx.args.split(' ')[1]}`) },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: 'alice', password: PASSWORD } }),
      ),
      'AUTH_FAILED',
    );
    const sent = Buffer.from(`\0alice\0${PASSWORD}`).toString('base64');
    expect(JSON.stringify(err)).not.toContain(sent);
    expect(err.message).toContain('cannot decode ***');
  });

  it('a long reply to a failed login is cut, so a form no scrubbing foresaw has little room', async () => {
    const server = await scripted({
      handlers: { PASS: (ctx) => ctx.err(`[AUTH] ${'x'.repeat(400)}`) },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', password: PASSWORD, method: 'user' },
        }),
      ),
      'AUTH_FAILED',
    );
    expect((err as { serverText?: string }).serverText?.length).toBeLessThanOrEqual(120);
  });
});

describe('SecretScrubber', () => {
  it('a password that starts with the user name is removed whole, not leaving its tail', () => {
    // Added in the order a login learns them: the user first, then the longer password.
    const scrubber = new SecretScrubber();
    scrubber.add('alice');
    scrubber.add('alice-2026!');
    expect(scrubber.scrub('-ERR alice-2026! refused')).toBe('-ERR *** refused');
    expect(scrubber.scrub('-ERR YWxpY2UtMjAyNiE= refused')).toBe('-ERR *** refused');
  });

  it('removes a form that contains another whole, not leaving its padding behind', () => {
    const scrubber = new SecretScrubber();
    scrubber.add('hunter2');
    expect(scrubber.scrub('[aHVudGVyMg==]')).toBe('[***]');
  });

  it('a secret of exactly three characters is scrubbed; before any secret, text is left as it is', () => {
    const scrubber = new SecretScrubber();
    expect(scrubber.scrub('null abc')).toBe('null abc');
    scrubber.add('abc');
    expect(scrubber.scrub('xABCx')).toBe('x***x');
  });

  it('leaves text without a secret alone, and never matches strings too short to be one', () => {
    const scrubber = new SecretScrubber();
    scrubber.add('ab');
    expect(scrubber.scrub('about ab and AB')).toBe('about ab and AB');
    scrubber.add('hunter2');
    expect(scrubber.scrub('-ERR HUNTER2 aHVudGVyMg== 68756e74657232 fine')).toBe(
      '-ERR *** *** *** fine',
    );
  });

  it('a secret full of regular-expression characters is matched as written, not as a pattern', () => {
    const scrubber = new SecretScrubber();
    scrubber.add('p(a)s+s*[x]$');
    expect(scrubber.scrub('-ERR p(a)s+s*[x]$ rejected; pass')).toBe('-ERR *** rejected; pass');
  });

  it('a base64 form without its padding is removed even where base64url differs from base64', () => {
    const secret = '????';
    const base64 = Buffer.from(secret).toString('base64');
    // The premise: a '/' (which base64url spells '_') and two padding characters.
    expect(base64).toBe('Pz8/Pw==');
    const scrubber = new SecretScrubber();
    scrubber.add(secret);
    expect(scrubber.scrub('AUTH failed for Pz8/Pw, try again')).toBe(
      'AUTH failed for ***, try again',
    );
  });

  it('a secret too short to add is not matched in any of its forms either', () => {
    const scrubber = new SecretScrubber();
    scrubber.add('ab');
    // 'YWI=' is the base64 of 'ab', '6162' its hex: text that happens to hold them stays as it is.
    expect(scrubber.scrub('YWI= 6162')).toBe('YWI= 6162');
  });
});
