import { describe, expect, it } from 'vitest';
import {
  createLocalSessions,
  LOGIN_CODE_TTL_MS,
  MAX_SESSIONS,
  MAX_WRONG_CODES,
  SESSION_TTL_MS,
} from '../../functions/viewer/local-sessions.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('one-time sign-in links', () => {
  it('a link copied from the history after use signs nobody in', () => {
    const sessions = createLocalSessions();
    const code = sessions.issueLoginCode();
    const session = sessions.exchange(code);
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sessions.isValid(session ?? '')).toBe(true);
    expect(sessions.exchange(code)).toBeNull();
  });

  it('a link opened after its hour has expired', () => {
    const time = clock();
    const sessions = createLocalSessions(time.now);
    const code = sessions.issueLoginCode();
    time.advance(LOGIN_CODE_TTL_MS + 1);
    expect(sessions.exchange(code)).toBeNull();
  });

  it('wrong codes short of the limit leave the link of the owner working', () => {
    const sessions = createLocalSessions();
    const code = sessions.issueLoginCode();
    for (let i = 0; i < MAX_WRONG_CODES - 1; i++) sessions.exchange('x'.repeat(43));
    expect(sessions.exchange(code)).not.toBeNull();
  });

  it('a guesser who reaches the limit revokes the code: guessing cannot go on', () => {
    const sessions = createLocalSessions();
    const code = sessions.issueLoginCode();
    for (let i = 0; i < MAX_WRONG_CODES; i++) sessions.exchange('not a code');
    expect(sessions.exchange(code)).toBeNull();
  });

  it('a new link revokes the one printed before it', () => {
    const sessions = createLocalSessions();
    const first = sessions.issueLoginCode();
    const second = sessions.issueLoginCode();
    expect(sessions.exchange(first)).toBeNull();
    expect(sessions.exchange(second)).not.toBeNull();
  });
});

describe('sessions', () => {
  it('end after their time, and a forged or malformed id is never one', () => {
    const time = clock();
    const sessions = createLocalSessions(time.now);
    const id = sessions.exchange(sessions.issueLoginCode()) ?? '';
    expect(sessions.isValid(`${id.slice(0, -1)}A`)).toBe(id.endsWith('A'));
    expect(sessions.isValid('')).toBe(false);
    expect(sessions.isValid(`${id} `)).toBe(false);
    time.advance(SESSION_TTL_MS + 1);
    expect(sessions.isValid(id)).toBe(false);
  });

  it('a loop of sign-ins cannot grow memory: past the limit the oldest session ends', () => {
    const sessions = createLocalSessions();
    const ids = Array.from(
      { length: MAX_SESSIONS + 1 },
      () => sessions.exchange(sessions.issueLoginCode()) ?? '',
    );
    expect(sessions.isValid(ids[0] ?? '')).toBe(false);
    expect(sessions.isValid(ids[1] ?? '')).toBe(true);
    expect(sessions.isValid(ids[MAX_SESSIONS] ?? '')).toBe(true);
  });
});
