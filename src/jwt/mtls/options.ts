import { lockedTo, optionsObject, refined, refuse, text, z } from '../../config/schema.js';

/**
 * How a trusted TLS-terminating proxy writes the client certificate:
 * - `rfc9440`: RFC 9440 `Client-Cert`, a structured-field byte sequence `:<base64 DER>:`.
 * - `pem-urlencoded`: the PEM text, URL-encoded: nginx `$ssl_client_escaped_cert`, AWS ALB
 *   `X-Amzn-Mtls-Clientcert`, Traefik-style `pem` forms that escape it the same way.
 */
export type CertificateHeaderFormat = 'rfc9440' | 'pem-urlencoded';

export const CERTIFICATE_HEADER_FORMATS: readonly CertificateHeaderFormat[] = ['rfc9440', 'pem-urlencoded'];

/** RFC 9110 token characters: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Headers that carry something else: reading a certificate from them is a mistake. */
const NOT_A_CERTIFICATE_HEADER = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'host',
  'dpop',
  'content-length',
  'transfer-encoding',
  'connection',
]);

const CERTIFICATE_HEADER = refined(
  optionsObject(
    'mtls.certificateHeader',
    {
      name: text('must be a header name'),
      format: z
        .enum(['rfc9440', 'pem-urlencoded'], { error: 'must be "rfc9440" or "pem-urlencoded"' })
        .optional(),
    },
    { header: 'name', encoding: 'format' },
  ),
  (header, ctx) => {
    if (!HEADER_NAME.test(header.name)) return refuse(ctx, 'must be a header name', 'name');
    if (NOT_A_CERTIFICATE_HEADER.has(header.name.toLowerCase()))
      return refuse(ctx, 'names a header that carries something else than a client certificate', 'name');
  },
);

/** The `mtls` option of jwtAuth and mcpAuth: RFC 8705 certificate-bound access tokens. */
export const MTLS_OPTIONS = optionsObject(
  'mtls',
  {
    certificateHeader: CERTIFICATE_HEADER.optional(),
  },
  { header: 'certificateHeader', certHeader: 'certificateHeader', clientCertHeader: 'certificateHeader' },
  'must be an object: `mtls: {}` checks the TLS connection, `mtls: { certificateHeader }` a trusted proxy header',
);

/** Where the client certificate of a request is read, when a TLS-terminating proxy sends it. */
export interface CertificateHeaderOptions {
  /**
   * The header the proxy sets, such as `client-cert` (RFC 9440) or `x-amzn-mtls-clientcert`.
   * Only configure a header your proxy always overwrites: a client could otherwise send any
   * certificate it likes. Sent twice, or also under another spelling (`client_cert`): 400.
   */
  name: string;
  /** How the certificate is written. Default `'rfc9440'`. */
  format?: CertificateHeaderFormat;
}

/**
 * RFC 8705 section 3: a token whose `cnf["x5t#S256"]` is set is accepted only when it equals the
 * SHA-256 thumbprint of the client certificate the request was made with. Tokens without `cnf`
 * are not affected.
 */
export interface MtlsOptions {
  /**
   * Read the certificate from this header instead of the TLS connection (whose peer is then
   * the proxy). Without it, the certificate is the one the client presented in the TLS
   * handshake of this connection (the server needs `requestCert: true`).
   */
  certificateHeader?: CertificateHeaderOptions;
}

lockedTo<MtlsOptions, z.output<typeof MTLS_OPTIONS>>(true);
