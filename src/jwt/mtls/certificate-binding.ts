import type { Problem } from '../../authenticator.js';
import type { ConfirmationCheck, Presentation } from '../sender-constraint.js';
import { readCertificateHeader } from './certificate-header.js';
import type { MtlsOptions } from './options.js';
import { certificateThumbprint, presentedCertificate } from './thumbprint.js';

/** The `cnf` member RFC 8705 section 3.1 defines. */
export const X5T_S256 = 'x5t#S256';

/** A SHA-256 digest in base64url without padding: 43 characters. */
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * The sender-constraint check of `cnf["x5t#S256"]` against the request's client certificate
 * (RFC 8705 section 3): a malformed thumbprint, no certificate or another one refuses the
 * token. Without `mtls` there is no such check, and the sender constraint refuses every
 * certificate-bound token (fail closed).
 *
 * With `certificateHeader`, the header is the only source: the TLS peer is then the proxy,
 * whose own certificate must never satisfy a client's binding.
 */
export function certificateBinding(options: MtlsOptions): ConfirmationCheck {
  const header = options.certificateHeader;
  const format = header?.format ?? 'rfc9440';
  return {
    member: X5T_S256,
    confirm(bound: unknown, { host }: Presentation): Problem | undefined {
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

function refused(reason: string, description: string): Problem {
  return { code: 'invalid_token', reason, description };
}
