/**
 * Sign-in to the local viewer without the API token ever reaching the address bar: `popvault serve`
 * prints a link carrying a one-time login code in its fragment (never sent in a request line, so
 * never in a log), the page trades it once for a session cookie and removes it from the history.
 * A used or expired code is worth nothing; sessions live in memory and end with the process.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Long enough to open the link after a coffee; the code works once in any case. */
export const LOGIN_CODE_TTL_MS = 60 * 60 * 1000;
/** A working day; a new link is one `popvault serve` away. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Wrong codes tolerated before the real one is revoked: a guesser gets a few tries, not millions. */
export const MAX_WRONG_CODES = 5;
/** More sessions than a person opens: past this the oldest goes, so a loop cannot fill memory. */
export const MAX_SESSIONS = 64;

export const SESSION_COOKIE = 'popvault_session';
/** base64url of 32 random bytes. */
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

export interface LocalSessions {
  /** A fresh one-time login code (each call revokes the previous unused one). */
  issueLoginCode(): string;
  /** A new session id for a valid unused code (which is then spent), or null. */
  exchange(code: string): string | null;
  isValid(sessionId: string): boolean;
}

export function createLocalSessions(now: () => number = Date.now): LocalSessions {
  let login: { digest: Buffer; expiresAt: number; wrong: number } | null = null;
  // Keyed by the digest, so a lookup compares no secret byte by byte.
  const sessions = new Map<string, number>();
  return {
    issueLoginCode() {
      const code = randomBytes(32).toString('base64url');
      login = { digest: digest(code), expiresAt: now() + LOGIN_CODE_TTL_MS, wrong: 0 };
      return code;
    },
    exchange(code) {
      const current = login;
      if (current === null) return null;
      if (now() > current.expiresAt) {
        login = null;
        return null;
      }
      if (!SECRET_SHAPE.test(code) || !timingSafeEqual(digest(code), current.digest)) {
        current.wrong += 1;
        if (current.wrong >= MAX_WRONG_CODES) login = null;
        return null;
      }
      login = null;
      const id = randomBytes(32).toString('base64url');
      if (sessions.size >= MAX_SESSIONS) {
        const oldest = sessions.keys().next().value;
        if (oldest !== undefined) sessions.delete(oldest);
      }
      sessions.set(digest(id).toString('hex'), now() + SESSION_TTL_MS);
      return id;
    },
    isValid(sessionId) {
      if (!SECRET_SHAPE.test(sessionId)) return false;
      const key = digest(sessionId).toString('hex');
      const expiresAt = sessions.get(key);
      if (expiresAt === undefined) return false;
      if (now() > expiresAt) {
        sessions.delete(key);
        return false;
      }
      return true;
    },
  };
}
