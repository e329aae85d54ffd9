import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestCertificates {
  /** The lab CA that signed `server`. Trusting it is what a user's CA-bundle option does. */
  ca: KeyPair;
  /** Leaf for `localhost` and `127.0.0.1` only, so 127.0.0.2 is a hostname mismatch. */
  server: KeyPair;
  /** SHA-256 fingerprint of `server.cert` as Node prints it (AA:BB:...). */
  serverFingerprint256: string;
  /** A CA that signed nothing here: trusting only it must fail verification. */
  otherCa: KeyPair;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): KeyPair {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '3650',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return {
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
    cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
  };
}

/** Generates a throwaway CA, a server leaf it signs, and an unrelated CA, with the openssl CLI. */
export function generateTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'popvault-certs-'));
  try {
    const ca = makeCa(dir, 'popvault-test-ca');
    const otherCa = makeCa(dir, 'popvault-other-ca');
    openssl(dir, [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    ]);
    writeFileSync(
      join(dir, 'server.ext'),
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
    );
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'popvault-test-ca.crt',
      '-CAkey',
      'popvault-test-ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '3650',
      '-extfile',
      'server.ext',
    ]);
    const server = {
      key: readFileSync(join(dir, 'server.key'), 'utf8'),
      cert: readFileSync(join(dir, 'server.crt'), 'utf8'),
    };
    return {
      ca,
      server,
      serverFingerprint256: new X509Certificate(server.cert).fingerprint256,
      otherCa,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
