import { Readable } from 'node:stream';
import type { Reply } from './command-channel.js';
import { DotUnstuffer } from './dot-unstuffer.js';
import type { WireReader } from './wire-reader.js';

const BODY_HIGH_WATER = 256 * 1024;
const DONE: Promise<void> = Promise.resolve();

/**
 * The rest of a multi-line reply as a Readable that pulls from the socket only as fast as it is read.
 * Destroying it early drains the remainder in the background so the next reply lines up.
 *
 * @param bodies the session's open bodies: the stream is in it until it ends, so a session failure
 *   can destroy it.
 * @param fail fails the whole session and returns the error to destroy the stream with.
 */
export function openBodyStream(
  reader: WireReader,
  what: string,
  bodies: Set<Readable>,
  fail: (err: unknown) => Error,
): Reply<Readable> {
  const unstuffer = new DotUnstuffer();
  let pulls: Promise<unknown> = DONE;
  const pull = (): Promise<Buffer | null> => {
    const next = pulls.then(() => (unstuffer.done ? null : reader.readBody(unstuffer, what)));
    pulls = next.catch(() => {});
    return next;
  };
  let finish: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stream = new Readable({
    highWaterMark: BODY_HIGH_WATER,
    read() {
      pull().then(
        (chunk) => {
          if (chunk === null) {
            bodies.delete(stream);
            finish();
            stream.push(null);
          } else {
            stream.push(chunk);
          }
        },
        (err: unknown) => {
          bodies.delete(stream);
          finish();
          stream.destroy(fail(err));
        },
      );
    },
    destroy(err, callback) {
      bodies.delete(stream);
      if (unstuffer.done) {
        finish();
      } else {
        (async () => {
          try {
            while ((await pull()) !== null) {}
          } catch (drainErr) {
            fail(drainErr);
          } finally {
            finish();
          }
        })();
      }
      callback(err);
    },
  });
  // Errors reach consumers through pipeline(), for-await and finished(); this listener only keeps a
  // session failure from crashing the process through a body nobody has started reading yet.
  stream.on('error', () => {});
  bodies.add(stream);
  return { value: stream, settled };
}
