import { describe, expect, it } from 'vitest';
import {
  LISTED_SIZE_APPENDED_CRLF_OCTETS,
  listedSizeAgrees,
  listedSizesSuspect,
} from '../../functions/core/pop3/listed-size.js';

describe('a LIST size agrees with the octets served within the line-end band, and not beyond', () => {
  it('accepts both edges of the band: every line end counted once with the CRLF appended, and one octet more per line', () => {
    const received = 1000;
    const lineEnds = 20;
    const lowest = received - lineEnds - LISTED_SIZE_APPENDED_CRLF_OCTETS;
    expect(listedSizeAgrees(lowest, received, lineEnds)).toBe(true);
    expect(listedSizeAgrees(lowest - 1, received, lineEnds)).toBe(false);
    expect(listedSizeAgrees(received + lineEnds, received, lineEnds)).toBe(true);
    expect(listedSizeAgrees(received + lineEnds + 1, received, lineEnds)).toBe(false);
  });

  it('flags a run at exactly one mismatch in twenty, never one without mismatches', () => {
    expect(listedSizesSuspect(1, 20)).toBe(true);
    expect(listedSizesSuspect(1, 21)).toBe(false);
    expect(listedSizesSuspect(0, 0)).toBe(false);
    expect(listedSizesSuspect(0, 10)).toBe(false);
  });
});
