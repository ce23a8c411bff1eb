import { createHash, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** RFC 8705 section 3.1 `x5t#S256`: base64url (no padding) of the SHA-256 of the certificate's DER. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/**
 * The DER of the certificate the client presented in the TLS handshake of `socket`, or
 * undefined (a plain TCP socket, or no certificate presented).
 *
 * `socket.authorized` is deliberately not required. What a certificate-bound token needs is
 * proof that the client holds the private key the token was bound to, and the handshake gives
 * exactly that: TLS verifies the client's CertificateVerify signature whether or not the chain
 * validates against the server's CAs (`rejectUnauthorized: false` only skips the chain
 * check). RFC 8705 section 2.2 (self-signed certificates) relies on this: the authorization
 * server, not the resource server, decides which certificate a token is bound to.
 */
export function presentedCertificate(socket: Socket | undefined): Buffer | undefined {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (tls === undefined || tls.encrypted !== true || typeof tls.getPeerCertificate !== 'function')
    return undefined;
  let raw: unknown;
  try {
    // `{}` (no `raw`) when no certificate was presented; `null` on a socket being torn down.
    raw = tls.getPeerCertificate(false)?.raw;
  } catch {
    return undefined;
  }
  return Buffer.isBuffer(raw) && raw.length > 0 ? raw : undefined;
}

/**
 * The DER of `bytes` when they are exactly one DER X.509 certificate (no PEM, nothing before or
 * after it), else undefined. Never throws. Parsed rather than hashed as given: what is compared
 * is a certificate, not arbitrary bytes.
 */
export function certificateDer(bytes: Uint8Array): Buffer | undefined {
  // 0x30: a DER SEQUENCE. X509Certificate would also take PEM text, which no format here sends.
  if (bytes.length === 0 || bytes[0] !== 0x30) return undefined;
  try {
    const raw = new X509Certificate(bytes).raw;
    return raw.equals(bytes) ? raw : undefined;
  } catch {
    return undefined;
  }
}
