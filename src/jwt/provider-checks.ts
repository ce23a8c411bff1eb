import { refuse, type z } from '../config/schema.js';
import { isSecretReference } from '../config/secret.js';
import { unfetchableUrl } from '../http/loopback.js';
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, isHmac } from './algorithms.js';
import type { JwksOption } from './options.js';

/** A provider's options once parsed (types only: options.ts imports this module). */
interface ParsedProvider {
  issuer: string;
  jwks?: JwksOption | undefined;
  allowSameOriginRedirects?: boolean | undefined;
  secret?: string | Uint8Array | undefined;
  algorithms?: readonly string[] | undefined;
}

/**
 * The checks of one provider that no single option can make: a secret with its algorithms, a
 * key source with the redirect rule, a discovery issuer, a fetchable JWKS URL. Runs on parsed
 * options (types and unknown keys already checked), at `path` (`providers[1]`, or the top level).
 */
export function checkProvider(
  options: ParsedProvider,
  ctx: z.RefinementCtx,
  path: (string | number)[],
): void {
  const found = providerProblem(options);
  if (found !== undefined) refuse(ctx, found.problem, ...path, ...found.field.split('.'));
}

/** The first problem of a provider, and the option (under the provider) it is about. */
function providerProblem(options: ParsedProvider): { problem: string; field: string } | undefined {
  const at = (problem: string, field: string) => ({ problem, field });
  const algorithms = options.algorithms ?? ASYMMETRIC_ALGORITHMS;
  const hmac = algorithms.filter(isHmac);
  const redirects = options.allowSameOriginRedirects ?? false;
  if (options.secret !== undefined) {
    if (redirects) return at('applies only to jwks.url and OIDC discovery', 'allowSameOriginRedirects');
    if (options.jwks !== undefined)
      return at('cannot be combined with jwks in one provider; use two providers', 'secret');
    if (hmac.length !== algorithms.length)
      return at('with a secret, list only HS256, HS384 or HS512', 'algorithms');
    if (typeof options.secret === 'string' && isSecretReference(options.secret)) {
      return at(
        'is written as a reference (such as $NAME), which is not resolved here: it would be the HMAC secret itself; pass process.env.NAME',
        'secret',
      );
    }
    const bytes = secretBytes(options.secret);
    for (const alg of hmac) {
      const minimum = HMAC_ALGORITHMS[alg]!;
      if (bytes.byteLength < minimum)
        return at(`is ${bytes.byteLength} bytes; ${alg} needs at least ${minimum}`, 'secret');
    }
    return undefined;
  }
  if (hmac.length > 0) {
    return at(
      `${hmac.join(', ')} need an explicit \`secret\`; keys from a JWKS are never used for HMAC`,
      'algorithms',
    );
  }
  const jwks = options.jwks;
  if (jwks === undefined) {
    const problem = discoveryProblem(options.issuer);
    if (problem === undefined) return undefined;
    return at(`is required unless the issuer can be used for OIDC discovery: ${problem}`, 'jwks');
  }
  // Parsed: the forms not given may be present as `undefined`.
  const given = (jwks as { url?: string }).url;
  if (given === undefined) {
    return redirects
      ? at('applies only to jwks.url and OIDC discovery', 'allowSameOriginRedirects')
      : undefined;
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    return at('is not a URL', 'jwks.url');
  }
  // Never echo the URL: it may hold a password.
  const problem = unfetchableUrl(url);
  return problem === undefined ? undefined : at(problem, 'jwks.url');
}

/** The bytes of an HMAC secret: a string's UTF-8, or the bytes given. */
export function secretBytes(secret: string | Uint8Array): Uint8Array {
  return typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
}

/** Why OIDC discovery cannot start from `issuer`, or undefined when it can. */
function discoveryProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'the issuer is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'the issuer is not an https URL';
  // OpenID Connect Discovery 1.0 section 2: an issuer has no query and no fragment.
  if (url.search !== '' || url.hash !== '' || issuer.includes('#') || issuer.includes('?'))
    return 'the issuer has a query or a fragment';
  const problem = unfetchableUrl(url);
  return problem === undefined ? undefined : `the issuer ${problem}`;
}
