/**
 * Raw objects are content-addressed inside a mailbox: the key depends only on the mailbox id and the
 * SHA-256 of the bytes, so storing the same message twice lands on the same key (no second object),
 * and two different messages can never overwrite each other whatever their UIDLs say. The mailbox id
 * is base64url-encoded: ids, like UIDLs, may hold "/", "..", "%", or anything else.
 */
export function encodeKeySegment(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

export function rawObjectKey(mailboxId: string, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a hex SHA-256: ${sha256.slice(0, 80)}`);
  // Two hex digits of fan-out keep any one prefix small in listings and S3 request-rate partitions.
  return `raw/${encodeKeySegment(mailboxId)}/${sha256.slice(0, 2)}/${sha256}.eml`;
}
