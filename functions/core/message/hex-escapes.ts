const TWO_HEX_DIGITS = /^[0-9a-fA-F]{2}$/;

/**
 * Replaces each `marker` followed by two hex digits with the octet they name (Q encoding's "=XX",
 * RFC 2047 s.4.2; RFC 2231's "%XX"). A marker without two hex digits after it stays as it is: mailers
 * write stray ones, and dropping them would lose text.
 */
export function unescapeHex(octets: Buffer, marker: number): Buffer {
  const out = Buffer.allocUnsafe(octets.length);
  let length = 0;
  for (let i = 0; i < octets.length; i++) {
    const octet = octets[i] as number;
    if (octet === marker && i + 2 < octets.length) {
      const hex = String.fromCharCode(octets[i + 1] as number, octets[i + 2] as number);
      if (TWO_HEX_DIGITS.test(hex)) {
        out[length++] = Number.parseInt(hex, 16);
        i += 2;
        continue;
      }
    }
    out[length++] = octet;
  }
  return out.subarray(0, length);
}
