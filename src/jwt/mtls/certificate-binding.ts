import type { Problem } from '../../authenticator.js';
import type { RequestHost } from '../../http/request-host.js';
import { readCertificateHeader } from './certificate-header.js';
import type { MtlsOptions } from './options.js';
import { certificateThumbprint, presentedCertificate } from './thumbprint.js';

/** The `cnf` member RFC 8705 section 3.1 defines. */
export const X5T_S256 = 'x5t#S256';

/** A SHA-256 digest in base64url without padding: 43 characters. */
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * The check of a token's `cnf["x5t#S256"]` against the request's client certificate
 * (RFC 8705 section 3). Fails closed: a bound token without `mtls` configured, with a
 * malformed thumbprint, without a certificate or with another one is refused. Returns
 * undefined when the token is not certificate-bound or the certificate matches.
 *
 * With `certificateHeader`, the header is the only source: the TLS peer is then the proxy,
 * whose own certificate must never satisfy a client's binding.
 */
export function certificateBinding(options: MtlsOptions | undefined) {
  const header = options?.certificateHeader;
  const format = header?.format ?? 'rfc9440';
  return {
    /** Whether `cnf` asks for this check (so a list of checks can tell unchecked methods). */
    applies(cnf: Readonly<Record<string, unknown>>): boolean {
      return Object.hasOwn(cnf, X5T_S256);
    },
    check(cnf: Readonly<Record<string, unknown>>, host: RequestHost): Problem | undefined {
      if (!Object.hasOwn(cnf, X5T_S256)) return undefined;
      if (options === undefined)
        return refused(
          'certificate-bound token, mtls not configured',
          'Certificate-bound tokens are not accepted',
        );
      const bound = cnf[X5T_S256];
      if (typeof bound !== 'string' || !THUMBPRINT.test(bound))
        return refused('cnf x5t#S256 malformed', "The token's certificate confirmation is malformed");
      let der: Buffer | undefined;
      if (header === undefined) {
        der = presentedCertificate(host.message.socket);
      } else {
        const reading = readCertificateHeader(host.message, header.name, format);
        if (reading.kind === 'ambiguous')
          return {
            code: 'ambiguous_header',
            reason: 'certificate header sent more than once or in another spelling',
          };
        if (reading.kind === 'unreadable')
          return refused('certificate header unreadable', 'The client certificate could not be read');
        der = reading.kind === 'found' ? reading.der : undefined;
      }
      if (der === undefined)
        return refused(
          'no client certificate',
          'The token is bound to a client certificate and none was presented',
        );
      // A thumbprint is no secret (anyone holding the certificate can compute it): `===` is fine.
      if (certificateThumbprint(der) !== bound)
        return refused(
          'client certificate does not match cnf',
          'The token is bound to another client certificate',
        );
      return undefined;
    },
  };
}

export type CertificateBinding = ReturnType<typeof certificateBinding>;

function refused(reason: string, description: string): Problem {
  return { code: 'invalid_token', reason, description };
}
