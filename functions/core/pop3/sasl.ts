import { createHash } from 'node:crypto';

/** RFC 4616: authzid NUL authcid NUL passwd, with an empty authzid. */
export function saslPlainResponse(user: string, password: string): string {
  return Buffer.from(`\u0000${user}\u0000${password}`, 'utf8').toString('base64');
}

/** Google/Microsoft XOAUTH2: "user=" u ^A "auth=Bearer " token ^A ^A, base64. */
export function xoauth2Response(user: string, accessToken: string): string {
  return Buffer.from(`user=${user}\u0001auth=Bearer ${accessToken}\u0001\u0001`, 'utf8').toString(
    'base64',
  );
}

/** RFC 1939 s.7: hex MD5 of the greeting's timestamp (angle brackets included) and the secret. */
export function apopDigest(timestamp: string, secret: string): string {
  return createHash('md5')
    .update(timestamp + secret, 'utf8')
    .digest('hex');
}

/** The "<process-id.clock@hostname>" timestamp of an APOP-capable greeting, if there is one. */
export function apopTimestamp(greeting: string): string | null {
  const match = /<[!-;=?-~]+@[!-;=?-~]+>/.exec(greeting);
  return match ? match[0] : null;
}
