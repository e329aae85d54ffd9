import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgressReporter } from '../../functions/cli/progress.js';

function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return Object.assign(out, { isTTY, text: () => text });
}

describe('pull progress', () => {
  it('on a terminal, redraws one line with counts, bytes, rate and ETA, at most every 100 ms', () => {
    const out = sink(true);
    let now = 0;
    const progress = createProgressReporter(out, () => now);
    progress.onProgress({ kind: 'listed', messages: 12, toRetrieve: 10, octets: 10 * 1024 * 1024 });
    for (let i = 1; i <= 10; i += 1) {
      now += 50;
      progress.onProgress({ kind: 'retrieved', messageKey: `m${i}`, octets: 1024 * 1024 });
    }
    progress.done();
    const text = out.text();
    expect(text).toContain('12 messages on the server, 10 to retrieve (10.0 MB)');
    const frames = text.split('\r').slice(1);
    // 10 messages 50 ms apart: redrawn about every other one, plus the last and the final line.
    expect(frames.length).toBeGreaterThanOrEqual(5);
    expect(frames.length).toBeLessThanOrEqual(8);
    expect(frames.at(-1)).toMatch(
      /^\[#{24}\] 10\/10 messages {2}10\.0\/10\.0 MB {2}20\.0 MB\/s {2}ETA 0s\n$/,
    );
  });

  it('elsewhere, prints plain lines at most once per tenth, so logs stay short', () => {
    const out = sink(false);
    const progress = createProgressReporter(out, () => 1000);
    progress.onProgress({ kind: 'listed', messages: 1000, toRetrieve: 1000, octets: 1000 });
    for (let i = 1; i <= 1000; i += 1)
      progress.onProgress({ kind: 'retrieved', messageKey: `m${i}`, octets: 1 });
    progress.done();
    const lines = out.text().trim().split('\n');
    expect(lines).toHaveLength(1 + 11);
    expect(out.text()).not.toContain('\r');
  });
});
