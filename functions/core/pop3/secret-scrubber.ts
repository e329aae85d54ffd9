/**
 * Removes credentials from server text before it reaches an error, a trace or a run record. A
 * server is untrusted: one that echoes the password back in its -ERR may do so verbatim, in another
 * case, base64-encoded (as it received it inside an AUTH exchange) or hex-encoded. Each secret is
 * matched in all of those forms, case-insensitively (which only ever removes more).
 */

/** Shorter strings would match ordinary words; no password or token worth the name is this short. */
const MIN_SECRET_LENGTH = 3;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function derivedForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const base64 = bytes.toString('base64');
  return [
    secret,
    base64,
    base64.replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
  ];
}

export class SecretScrubber {
  #pattern: RegExp | null = null;
  readonly #forms = new Set<string>();

  add(secret: string): void {
    if (secret.length < MIN_SECRET_LENGTH) return;
    // Every derived form is at least as long as the secret (UTF-8 never has fewer bytes than
    // UTF-16 units, and each encoding spells a byte with at least one character).
    for (const form of derivedForms(secret)) this.#forms.add(form);
    // Longest first, so a form that contains another is removed whole.
    const alternatives = [...this.#forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.#pattern = new RegExp(alternatives.join('|'), 'gi');
  }

  scrub(text: string): string {
    return this.#pattern === null ? text : text.replace(this.#pattern, '***');
  }
}
