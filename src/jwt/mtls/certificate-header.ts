import { headerSpellingKey, type MessageHead, sameSpelling } from '../../http/headers.js';
import type { CertificateHeaderFormat } from './options.js';
import { certificateDer } from './thumbprint.js';

/** What the configured certificate header of one request holds. */
export type CertificateReading =
  | { kind: 'absent' }
  /** Sent on several lines, or also under a spelling an upstream folds into its name. */
  | { kind: 'ambiguous' }
  /** Present but not one certificate in the configured format. */
  | { kind: 'unreadable' }
  | { kind: 'found'; der: Buffer };

/** Far above any real certificate (a few KB); longer values are refused before decoding. */
export const MAX_CERTIFICATE_HEADER_LENGTH = 32 * 1024;

const ABSENT: CertificateReading = { kind: 'absent' };
const AMBIGUOUS: CertificateReading = { kind: 'ambiguous' };
const UNREADABLE: CertificateReading = { kind: 'unreadable' };

/**
 * Reads the certificate from the header `name` of `message`, from the raw header list: Node
 * joins or drops repeated lines in `message.headers`, and keeps `client_cert` apart from
 * `client-cert` where CGI-style upstreams merge them, so either would let a client slip a
 * certificate beside the proxy's.
 */
export function readCertificateHeader(
  message: MessageHead,
  name: string,
  format: CertificateHeaderFormat,
): CertificateReading {
  const wanted = name.toLowerCase();
  const spelling = headerSpellingKey(wanted);
  const raw = message.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const sent = raw[i]!;
    if (!sameSpelling(sent, spelling)) continue;
    if (value !== undefined || sent.toLowerCase() !== wanted) return AMBIGUOUS;
    value = raw[i + 1]!;
  }
  if (value === undefined) return ABSENT;
  const der = format === 'rfc9440' ? fromRfc9440(value) : fromUrlEncodedPem(value);
  return der === undefined ? UNREADABLE : { kind: 'found', der };
}

// RFC 8941 section 3.3.5: `:` base64 `:`; padding may be missing (section 4.2.7). No parameters:
// RFC 9440 defines none, and a value we do not fully understand is not one we trust.
const SF_BINARY = /^:([A-Za-z0-9+/]*={0,2}):$/;

/** RFC 9440 section 2.2 `Client-Cert`: an sf-binary item holding the DER. */
export function fromRfc9440(value: string): Buffer | undefined {
  const trimmed = value.trim();
  if (trimmed.length > MAX_CERTIFICATE_HEADER_LENGTH) return undefined;
  const match = SF_BINARY.exec(trimmed);
  if (match === null) return undefined;
  return certificateDer(Buffer.from(match[1]!, 'base64'));
}

const PEM = /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END CERTIFICATE-----\r?\n?$/;

/**
 * A URL-encoded PEM certificate (nginx `$ssl_client_escaped_cert`, AWS ALB
 * `X-Amzn-Mtls-Clientcert`, which leaves `+`, `/` and `=` unescaped: `+` is never a space
 * here). Exactly one CERTIFICATE block: a chain would leave it to us to guess the leaf.
 */
export function fromUrlEncodedPem(value: string): Buffer | undefined {
  const trimmed = value.trim();
  if (trimmed.length > MAX_CERTIFICATE_HEADER_LENGTH) return undefined;
  let pem: string;
  try {
    pem = decodeURIComponent(trimmed);
  } catch {
    return undefined;
  }
  const match = PEM.exec(pem);
  if (match === null) return undefined;
  const base64 = match[1]!.replace(/\r?\n/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return undefined;
  return certificateDer(Buffer.from(base64, 'base64'));
}
