import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One certificate and its key, PEM. */
export interface Issued {
  cert: string;
  key: string;
  /** DER of the certificate. */
  der: Buffer;
}

/** A CA, a server certificate for 127.0.0.1 and client certificates, made by the openssl CLI. */
export interface TestPki {
  ca: Issued;
  server: Issued;
  alice: Issued;
  bob: Issued;
  /** Self-signed, not issued by `ca`: presented, but not authorized. */
  stranger: Issued;
}

/** Makes the test PKI in a temporary directory (removed before returning). */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-mtls-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const read = (name: string): Issued => {
    const cert = readFileSync(join(dir, `${name}.crt`), 'utf8');
    return { cert, key: readFileSync(join(dir, `${name}.key`), 'utf8'), der: new X509Certificate(cert).raw };
  };
  const keyFor = (name: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  const signed = (name: string, subject: string, extensions: string) => {
    keyFor(name);
    openssl('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  };
  try {
    keyFor('ca');
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-subj',
      '/CN=portcullis test CA',
      '-days',
      '2',
      '-sha256',
      '-out',
      'ca.crt',
    );
    signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    signed('alice', '/CN=alice', 'extendedKeyUsage=clientAuth\n');
    signed('bob', '/CN=bob', 'extendedKeyUsage=clientAuth\n');
    keyFor('stranger');
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      'stranger.key',
      '-subj',
      '/CN=stranger',
      '-days',
      '2',
      '-sha256',
      '-out',
      'stranger.crt',
    );
    return {
      ca: read('ca'),
      server: read('server'),
      alice: read('alice'),
      bob: read('bob'),
      stranger: read('stranger'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
