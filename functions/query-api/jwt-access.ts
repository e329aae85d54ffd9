/**
 * The mailboxes a JWT caller may read, from the claims API Gateway's JWT authorizer verified (issuer,
 * audience, signature, expiry) and passed on in `requestContext.authorizer.jwt.claims`.
 *
 * The mailboxes claim (`api.jwt.mailboxesClaim`, default "popvault_mailboxes") names mailbox ids. The
 * identity provider may issue it as a JSON array (`["work", "home"]`) or as one space-separated string
 * (`"work home"`, the way OAuth writes `scope`). API Gateway hands array claims to the function as a
 * string (`"[work home]"`), so that form is read too. Mailbox ids cannot contain spaces, commas,
 * brackets or quotes, so every form reads unambiguously. `"*"` grants every mailbox, for the archive's
 * administrators.
 *
 * Fail closed: a token without the claim, or with an entry that is not a mailbox id, reads nothing
 * (403, naming the claim), because a token the app cannot read is not proof of any grant.
 *
 * Required scopes (`api.jwt.requiredScopes`): API Gateway refuses a token carrying none of them
 * before the function runs; the app requires every one of them, from `scope` (space-separated) or
 * `scp` (array or string, as Entra ID and Okta issue it).
 */
import { MAILBOX_ID } from '../core/archive/mailbox-id.js';
import { forbidden } from './errors.js';
import { ALL_MAILBOXES, type MailboxAccess, onlyMailboxes } from './mailbox-access.js';

export const DEFAULT_MAILBOXES_CLAIM = 'popvault_mailboxes';
/** The claim value that grants every mailbox. */
export const ALL_MAILBOXES_GRANT = '*';

export interface JwtAccessConfig {
  /** The claim that names the caller's mailboxes. */
  mailboxesClaim: string;
  /** Scopes the token must carry, every one of them; empty for none. */
  requiredScopes: readonly string[];
}

/** Mailbox ids hold neither spaces nor commas, so both separate them; a scope may hold a comma. */
const MAILBOX_SEPARATORS = /[\s,]+/;
const SCOPE_SEPARATORS = /\s+/;

/**
 * The entries of a claim given as an array, a separated string, or API Gateway's rendering of an
 * array (`[a b]`, or JSON text `["a","b"]`). null when it is none of those.
 */
export function claimEntries(value: unknown, separators = MAILBOX_SEPARATORS): string[] | null {
  if (Array.isArray(value)) {
    return value.every((v) => typeof v === 'string') ? (value as string[]) : null;
  }
  if (typeof value !== 'string') return null;
  let text = value.trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return claimEntries(parsed, separators);
    } catch {
      // Not JSON: API Gateway's "[a b]" rendering, read below.
    }
    if (!text.endsWith(']')) return null;
    text = text.slice(1, -1);
  }
  return text.split(separators).filter((entry) => entry !== '');
}

/** The scopes a token carries, from `scope` and `scp` in any of the forms claimEntries reads. */
export function tokenScopes(claims: Readonly<Record<string, unknown>>): Set<string> {
  const scopes = new Set<string>();
  for (const name of ['scope', 'scp']) {
    for (const scope of claimEntries(claims[name], SCOPE_SEPARATORS) ?? []) scopes.add(scope);
  }
  return scopes;
}

/** What a verified JWT's claims allow; throws FORBIDDEN (403) when they allow nothing at all. */
export function jwtAccess(
  claims: Readonly<Record<string, unknown>> | null,
  config: JwtAccessConfig,
): MailboxAccess {
  if (claims === null) {
    // Only possible if the route were deployed without the JWT authorizer: refuse, never assume.
    throw forbidden('the request carries no verified JWT claims');
  }
  const scopes = tokenScopes(claims);
  const missing = config.requiredScopes.filter((scope) => !scopes.has(scope));
  if (missing.length > 0) {
    throw forbidden(
      `the token lacks the required scope${missing.length === 1 ? '' : 's'} ${missing.join(', ')}; ask for a token with ${config.requiredScopes.join(' ')}`,
    );
  }
  const claimName = JSON.stringify(config.mailboxesClaim);
  const value = claims[config.mailboxesClaim];
  if (value === undefined || value === null) {
    throw forbidden(
      `the token has no ${claimName} claim naming the mailboxes it may read; have the identity provider add it`,
    );
  }
  const entries = claimEntries(value);
  if (entries === null || entries.some((e) => e !== ALL_MAILBOXES_GRANT && !MAILBOX_ID.test(e))) {
    throw forbidden(
      `the token's ${claimName} claim is not a list of mailbox ids (a JSON array or a space-separated string; "*" for all)`,
    );
  }
  return entries.includes(ALL_MAILBOXES_GRANT) ? ALL_MAILBOXES : onlyMailboxes(entries);
}
