import type { Capabilities } from './capabilities.js';
import type { CommandChannel } from './command-channel.js';
import { Pop3ServerError } from './errors.js';

/**
 * RFC 6856 UTF-8 mode of the session: 'active' (the server accepted UTF8), 'refused' (it listed UTF8
 * in CAPA but answered -ERR), 'not-offered' (no UTF8 in CAPA, or no CAPA at all).
 */
export type Utf8Mode = 'active' | 'refused' | 'not-offered';

/**
 * RFC 6856 s.2: a server that lists UTF8 accepts the UTF8 command in the AUTHORIZATION state,
 * before authentication, and only then may serve mail with raw UTF-8 headers as it is. Without
 * it, a server may serve such mail altered or substituted (RFC 6856 s.3 leaves the choice to the
 * server): Courier POP3 1.0.16 serves a generated "Cannot display Unicode content" notice in
 * its place, which an archiver would store and then delete the original. A -ERR leaves the
 * session in its old mode; the run carries on and records it.
 */
export async function enterUtf8(
  channel: CommandChannel,
  capabilities: Capabilities,
): Promise<Utf8Mode> {
  if (!capabilities.has('UTF8')) return 'not-offered';
  try {
    await channel.simple({ verb: 'UTF8', line: 'UTF8', barrier: true }, () => undefined);
    return 'active';
  } catch (err) {
    if (err instanceof Pop3ServerError) return 'refused';
    throw err;
  }
}
