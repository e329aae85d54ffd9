import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import { Pop3Client, type Pop3ClientOptions } from '../../functions/core/pop3/client.js';
import { Pop3Error, type Pop3ErrorCode } from '../../functions/core/pop3/errors.js';
import {
  createScriptedServer,
  type ScriptedMessage,
  type ScriptedServer,
  type ScriptedServerOptions,
} from './scripted-pop3-server.js';

/** Reads a stream to the end. Test-only: production code never holds a whole message. */
export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function message(uid: string, text: string): ScriptedMessage {
  return { uid, body: Buffer.from(text) };
}

/** Awaits `promise`, expecting a Pop3Error with `code`; returns it for further checks. */
export async function expectPop3Error(
  promise: Promise<unknown>,
  code: Pop3ErrorCode,
): Promise<Pop3Error> {
  let settled: unknown;
  try {
    await promise;
  } catch (err) {
    settled = err;
  }
  if (!(settled instanceof Pop3Error)) {
    throw new Error(
      `expected a Pop3Error ${code}, got ${settled === undefined ? 'success' : String(settled)}`,
    );
  }
  if (settled.code !== code) {
    throw new Error(`expected Pop3Error ${code}, got ${settled.code}: ${settled.message}`);
  }
  return settled;
}

const openServers: ScriptedServer[] = [];
const openClients: Pop3Client[] = [];

afterEach(async () => {
  for (const client of openClients.splice(0)) client.close();
  await Promise.all(openServers.splice(0).map((server) => server.close()));
});

/** A scripted server closed after the test. */
export async function scripted(opts: ScriptedServerOptions = {}): Promise<ScriptedServer> {
  const server = await createScriptedServer(opts);
  openServers.push(server);
  return server;
}

export function scriptedOptions(
  server: ScriptedServer,
  over: Partial<Pop3ClientOptions> = {},
): Pop3ClientOptions {
  return {
    host: server.host,
    port: server.port,
    tls: 'none',
    insecure: true,
    credentials: { user: 'alice', password: 'wonderland' },
    idleTimeoutMs: 5_000,
    ...over,
  };
}

/** A connected client closed (without QUIT) after the test unless the test quits it. */
export async function connect(options: Pop3ClientOptions): Promise<Pop3Client> {
  const client = await Pop3Client.connect(options);
  openClients.push(client);
  return client;
}
