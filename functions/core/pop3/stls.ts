import type { Socket } from 'node:net';
import type { Capabilities } from './capabilities.js';
import type { CommandChannel } from './command-channel.js';
import { Pop3ProtocolError, Pop3ServerError, Pop3TlsError } from './errors.js';
import { startTls, type TransportOptions } from './transport.js';

/**
 * RFC 2595 STLS: upgrades the cleartext connection to TLS, or ends the session. Nothing falls back
 * to cleartext. The capabilities read before TLS are not to be trusted after it: read them again.
 */
export async function upgradeToTls(
  channel: CommandChannel,
  capabilities: Capabilities,
  tcp: Socket,
  transport: TransportOptions,
): Promise<void> {
  if (capabilities.supported && !capabilities.has('STLS')) {
    throw new Pop3TlsError(
      'STLS_UNAVAILABLE',
      `${transport.host} does not offer STLS; refusing to continue in cleartext (use tls "implicit" on port 995 if the server has it)`,
    );
  }
  try {
    await channel.simple({ verb: 'STLS', line: 'STLS', barrier: true }, () => undefined);
  } catch (err) {
    if (!(err instanceof Pop3ServerError)) throw err;
    throw new Pop3TlsError(
      'STLS_UNAVAILABLE',
      `${transport.host} refused STLS (${err.serverText}); refusing to continue in cleartext`,
      { cause: err },
    );
  }
  // Bytes after "+OK" but before the handshake were sent in cleartext by whoever sits on the path:
  // taking them as replies would let an attacker inject responses into the TLS session.
  const leftover = channel.detach();
  if (leftover > 0) {
    throw new Pop3ProtocolError(
      'PROTOCOL_VIOLATION',
      `the server sent ${leftover} octets after accepting STLS and before TLS started; possible response injection, refusing`,
    );
  }
  channel.attach(await startTls(tcp, transport, transport.connectTimeoutMs, channel.failed));
}
