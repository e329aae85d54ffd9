/**
 * An independent reference encoder for multi-line bodies (RFC 1939 s.3), written without looking at the
 * client's decoder so the two check each other.
 */
export function withFinalCrlf(content: Buffer): Buffer {
  if (content.length === 0 || content.subarray(-2).equals(Buffer.from('\r\n'))) return content;
  return Buffer.concat([content, Buffer.from('\r\n')]);
}

export function stuffBody(content: Buffer): Buffer {
  const body = withFinalCrlf(content);
  const out: number[] = [];
  let lineStart = true;
  for (let i = 0; i < body.length; i += 1) {
    const byte = body[i] as number;
    if (lineStart && byte === 0x2e) out.push(0x2e);
    out.push(byte);
    lineStart = byte === 0x0a && i > 0 && body[i - 1] === 0x0d;
  }
  return Buffer.concat([Buffer.from(out), Buffer.from('.\r\n')]);
}

/** Splits `data` at the given cut sizes (cycled), so every chunk boundary lands somewhere new. */
export function chunkAt(data: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  let k = 0;
  while (at < data.length) {
    const size = sizes.length === 0 ? data.length : Math.max(1, sizes[k % sizes.length] as number);
    chunks.push(data.subarray(at, at + size));
    at += size;
    k += 1;
  }
  return chunks;
}
