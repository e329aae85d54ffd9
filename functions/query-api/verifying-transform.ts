import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/**
 * Passes bytes through and, at their end, checks them against what the index recorded: a response is
 * never silently different from the archived message. The latest chunk is held back until the next
 * one arrives or the check passes, so on a mismatch the client gets fewer octets than Content-Length
 * says (a transfer it knows failed), never the full count of wrong bytes.
 */
export function verifying(expected: { sha256: string; octets: number }, what: string): Transform {
  const hash = createHash('sha256');
  let octets = 0;
  let held: Buffer | null = null;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      octets += chunk.length;
      const previous = held;
      held = chunk;
      callback(null, previous ?? undefined);
    },
    flush(callback) {
      const sha256 = hash.digest('hex');
      if (octets === expected.octets && sha256 === expected.sha256) {
        callback(null, held ?? undefined);
        return;
      }
      callback(
        new Error(
          `${what} is ${octets} octets with sha256 ${sha256}; the index recorded ${expected.octets} octets with sha256 ${expected.sha256}`,
        ),
      );
    },
  });
}
