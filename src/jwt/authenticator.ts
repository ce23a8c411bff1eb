import {
  type Authenticator,
  type SchemeContext,
  type SchemeDeclaration,
  schemeContext,
  type Verdict,
} from '../authenticator.js';
import { parseOptions } from '../config/schema.js';
import { authorizationSchemes, BEARER_LOCATION } from '../credentials/location.js';
import { ConfigError } from '../errors.js';
import type { RequestHost } from '../http/request-host.js';
import type { AuthPart } from '../identity.js';
import { type CredentialCode, dpopAsking } from '../refusals.js';
import { parseCompactJwt } from './compact.js';
import { type DpopConfirmation, dpopConfirmation } from './dpop/confirmation.js';
import { DEFAULT_DPOP_ALGORITHMS, DPOP_OPTIONS } from './dpop/options.js';
import { certificateBinding } from './mtls/certificate-binding.js';
import { isBearerAuthorization, JWT_AUTH_OPTIONS, type JwtAuthOptions, mergedProviders } from './options.js';
import { type KeyLookup, Provider } from './provider.js';
import { Revocations, type TokenRevoker } from './revocations.js';
import { scopesFromClaims } from './scopes.js';
import { type ConfirmationCheck, type ConstraintResult, SenderConstraint } from './sender-constraint.js';
import { VerifiedTokens } from './verified-tokens.js';
import { type ParsedToken, verifyWithKeys } from './verify.js';

/**
 * The identity a verified token grants; claims are shared and frozen, and so are the scopes here
 * (the pipeline's mergeAuth copies them into the request's own identity).
 */
function jwtIdentity(claims: Readonly<Record<string, unknown>>, scopes: readonly string[]): AuthPart {
  const identity: AuthPart = { scopes, method: 'jwt', jwt: claims as Record<string, unknown> };
  if (typeof claims.sub === 'string') identity.subject = claims.sub;
  return identity;
}

/** One token's verification across its issuer's providers. */
interface Attempt {
  token: string;
  host: RequestHost;
  presented: string | undefined;
  parsed: ParsedToken;
  kid: string | undefined;
  /** The issuer's providers; `ordered`: those knowing the kid first. */
  candidates: readonly Provider[];
  ordered: readonly Provider[];
  keyMismatch: boolean;
  unavailableFor?: number;
}

/** The verdict on a verified token whose binding was checked. */
function verdictOf(
  result: ConstraintResult,
  claims: Readonly<Record<string, unknown>>,
  scopes: readonly string[],
): Verdict {
  if (result.problem !== undefined) return { ok: false, problem: result.problem };
  const identity = jwtIdentity(claims, scopes);
  return result.headers === undefined
    ? { ok: true, identity }
    : { ok: true, identity, headers: result.headers };
}

/** How the jwt scheme asks for its token; a JWT elsewhere than `Authorization: Bearer` is asked for as `JWT`. */
export const JWT_SCHEME: SchemeDeclaration = {
  method: 'jwt',
  challenge: { standard: 'Bearer', named: 'JWT' },
  defaultRealm: 'api',
  defaultLocation: BEARER_LOCATION,
};

/**
 * The shared options of the jwt scheme, as {@link schemeContext} reads them; with `dpop`, the
 * token is read from `Authorization` with either auth-scheme, `Bearer` or `DPoP` (the reading
 * says which), the DPoP proof is stripped with it, and the scheme asks for DPoP too.
 */
export function jwtSchemeContext(
  options: JwtAuthOptions,
  declared: SchemeDeclaration = JWT_SCHEME,
): SchemeContext {
  const context = schemeContext(options, declared);
  if (options.dpop === undefined) return context;
  const dpop = parseOptions(DPOP_OPTIONS, options.dpop, 'dpop');
  if (!isBearerAuthorization(options.location))
    throw new ConfigError(
      'location',
      'cannot be used with `dpop`: DPoP tokens travel in the Authorization header (Bearer or DPoP scheme)',
    );
  return {
    ...context,
    locator: authorizationSchemes(['Bearer', 'DPoP'], ['dpop']),
    dpop: dpopAsking(context.realm, dpop.algorithms ?? DEFAULT_DPOP_ALGORITHMS, dpop.mode === 'required'),
  };
}

/**
 * The jwt scheme as an {@link Authenticator}: the whole of `jwtAuth()` except the pipeline and
 * the adapter. `context` is what the pipeline checked of the shared options.
 */
export function jwtAuthenticator(
  given: JwtAuthOptions,
  context: SchemeContext = jwtSchemeContext(given),
): Authenticator & { revocations: TokenRevoker } {
  // Every option, with each provider's checks, at once: nothing below can refuse them.
  // `logger`, `realm` and `location` are checked again (already checked: they pass).
  const options = parseOptions(JWT_AUTH_OPTIONS, given);
  const logger = context.logger;
  const maxTokenLength = options.maxTokenLength ?? 16_384;
  // Checked before any provider starts a key fetch or a file watch that a refusal would leak.
  const verified = new VerifiedTokens(options.cache);
  const revocations = new Revocations(options.revocations, logger);

  // Sender constraints (`cnf`): one confirmation check per method this middleware can confirm.
  // A token bound by any other method is refused: `jkt` (dpop), `x5t#S256` (mtls).
  const confirmations: ConfirmationCheck[] = [];
  let dpop: DpopConfirmation | undefined;
  const providers: Provider[] = [];
  try {
    if (options.dpop !== undefined) {
      dpop = dpopConfirmation(options.dpop, logger);
      confirmations.push(dpop);
    }
    if (options.mtls !== undefined) confirmations.push(certificateBinding(options.mtls));
    const field = (index: number) => (options.providers === undefined ? '' : `providers[${index}].`);
    for (const [index, provider] of mergedProviders(options).entries())
      providers.push(new Provider(provider, field(index), logger));
  } catch (error) {
    for (const provider of providers) provider.close();
    void revocations.close();
    void dpop?.close();
    throw error;
  }
  const constraint = new SenderConstraint(
    confirmations,
    options.dpop === undefined ? undefined : { required: options.dpop.mode === 'required' },
  );
  const byIssuer = new Map<string, Provider[]>();
  for (const provider of providers)
    byIssuer.set(provider.issuer, [...(byIssuer.get(provider.issuer) ?? []), provider]);

  /**
   * A verified token's verdict: refused when revoked, or while revocations cannot be checked,
   * or when the request does not prove possession of the key the token is bound to.
   */
  const unlessRevoked = (
    claims: Readonly<Record<string, unknown>>,
    scopes: readonly string[],
    provider: Provider,
    token: string,
    presented: string | undefined,
    host: RequestHost,
  ): Verdict | Promise<Verdict> => {
    const problem = revocations.check(claims, provider.clockSkewSeconds);
    if (problem !== undefined) return { ok: false, problem };
    const confirmation = constraint.check(claims, token, presented, host);
    if (confirmation === undefined) return { ok: true, identity: jwtIdentity(claims, scopes) };
    if (confirmation instanceof Promise)
      return confirmation.then((result) => verdictOf(result, claims, scopes));
    return verdictOf(confirmation, claims, scopes);
  };

  const authenticator = {
    revocations: revocations as TokenRevoker,
    /** Synchronous for a cached token: most requests then cross no promise. */
    authenticate(token: string, host: RequestHost, presented?: string): Verdict | Promise<Verdict> {
      if (token.length > maxTokenLength)
        return reject('invalid_token', 'longer than maxTokenLength', 'The token is too long');
      const hit = verified.lookup(token);
      // A cached token is checked against the revocations and its binding like any other, on
      // every request.
      if (hit !== undefined)
        return unlessRevoked(hit.claims, hit.scopes, hit.provider, token, presented, host);
      return verifyToken(token, host, presented);
    },
    async close() {
      for (const provider of providers) provider.close();
      await Promise.all([revocations.close(), dpop?.close()]);
    },
  };
  const reject = (code: CredentialCode, reason: string, description: string): Verdict => ({
    ok: false,
    problem: { code, reason, description },
  });

  /**
   * Full verification of a token the cache does not hold. Synchronous while every provider
   * tried has its keys in memory (the usual case): the async function it was, with an await on
   * each keysFor, cost the new-token path its promise and microtask turns: 470.2k -> 445.3k
   * instructions over bare Express (bench:instructions, express-jwt-new).
   */
  function verifyToken(
    token: string,
    host: RequestHost,
    presented: string | undefined,
  ): Verdict | Promise<Verdict> {
    // The parts counted without splitting: five is a JWE, anything but three is malformed.
    let parts = 1;
    for (let at = token.indexOf('.'); at !== -1; at = token.indexOf('.', at + 1)) parts++;
    if (parts === 5) return reject('invalid_token', 'encrypted (JWE)', 'Encrypted tokens are not accepted');
    if (parts !== 3) return reject('invalid_token', `${parts} parts, not 3`, 'The token is malformed');

    // Unverified reads, only to pick the issuer and key; nothing here is trusted or fetched.
    const parsed = parseCompactJwt(token);
    if (parsed === undefined)
      return reject('invalid_token', 'header or claims not decodable JSON objects', 'The token is malformed');
    const kid = parsed.header.kid as string | undefined;
    const issuer = parsed.claims.iss;
    const candidates = typeof issuer === 'string' ? byIssuer.get(issuer) : undefined;
    if (candidates === undefined)
      return reject('invalid_token', 'issuer not configured', "The token's issuer is not accepted");
    // Two issuers' providers may share a kid; one issuer may have several providers.
    const ordered =
      kid === undefined || candidates.length === 1
        ? candidates
        : [...candidates].sort((a, b) => Number(b.knowsKid(kid)) - Number(a.knowsKid(kid)));
    const attempt: Attempt = { token, host, presented, parsed, kid, candidates, ordered, keyMismatch: false };
    return tryProviders(attempt, 0);
  }

  /**
   * Tries the providers from `index` on, in order: synchronously while their keys are in
   * memory, and from the first that must wait for its keys, after that wait.
   */
  function tryProviders(attempt: Attempt, index: number): Verdict | Promise<Verdict> {
    const { alg } = attempt.parsed;
    for (let at = index; at < attempt.ordered.length; at++) {
      const provider = attempt.ordered[at]!;
      if (!provider.algorithms.includes(alg)) continue;
      const lookup = provider.keysFor(attempt.kid, alg);
      if (lookup instanceof Promise) {
        return lookup.then(
          (settled) => withKeys(attempt, provider, settled) ?? tryProviders(attempt, at + 1),
        );
      }
      const verdict = withKeys(attempt, provider, lookup);
      if (verdict !== undefined) return verdict;
    }
    return noProvider(attempt);
  }

  /** The verdict of one provider's keys, or undefined to try the next provider. */
  function withKeys(
    attempt: Attempt,
    provider: Provider,
    lookup: KeyLookup,
  ): Verdict | Promise<Verdict> | undefined {
    if (lookup.kind === 'unavailable') {
      attempt.unavailableFor = lookup.retryAfterSeconds;
      return undefined;
    }
    if (lookup.kind === 'unknown') return undefined;
    const check = verifyWithKeys(attempt.parsed, lookup.keys, provider);
    if (!check.ok) {
      // One issuer may have several providers (say, during a migration): try the next.
      if (check.keyMismatch === true) {
        attempt.keyMismatch = true;
        return undefined;
      }
      return reject(check.problem.code, check.problem.reason, check.problem.description);
    }
    const claims = check.claims as Record<string, unknown>;
    const scopes = scopesFromClaims(claims, provider.scopeClaim);
    verified.remember(attempt.token, claims, scopes, provider, check.key);
    // Checked after any wait for keys: a revocation that arrived meanwhile applies.
    return unlessRevoked(claims, scopes, provider, attempt.token, attempt.presented, attempt.host);
  }

  /** Why no provider verified the token. */
  function noProvider(attempt: Attempt): Verdict {
    if (attempt.keyMismatch)
      return reject('invalid_token', 'signature not valid', "The token's signature is not valid");
    if (attempt.unavailableFor !== undefined) {
      return {
        ok: false,
        problem: {
          code: 'unavailable',
          reason: 'key source unavailable',
          retryAfterSeconds: attempt.unavailableFor,
        },
      };
    }
    const { alg } = attempt.parsed;
    if (!attempt.candidates.some((provider) => provider.algorithms.includes(alg))) {
      return reject('invalid_token', 'algorithm not accepted', "The token's algorithm is not accepted");
    }
    return reject('invalid_token', 'no key for its kid', 'The token was signed by an unknown key');
  }

  return authenticator;
}
