import type { KeyObject } from 'node:crypto';
import { atMostOne, refuseUnknownKeys } from '../config/known-keys.js';
import { isSecretReference } from '../config/secret.js';
import { ConfigError } from '../errors.js';
import { displayUrl } from '../http/display-url.js';
import type { FetchJsonOptions } from '../http/fetch-json.js';
import { unfetchableUrl } from '../http/loopback.js';
import type { Logger } from '../logger.js';
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, isAsymmetric, isHmac } from './algorithms.js';
import { FileKeySource } from './file-key-source.js';
import { KeySet } from './key-set.js';
import { type KeySource, StaticKeySource } from './key-source.js';
import { JWKS_FORM_KEYS, JWKS_KEYS, type JwksOption, type JwtProviderOptions } from './options.js';
import { DEFAULT_REMOTE_TIMING, discoverJwksUrl, RemoteKeySource } from './remote-key-source.js';

/** The keys a token may be verified with, or why there are none. */
export type KeyLookup =
  | { kind: 'keys'; keys: readonly (KeyObject | Uint8Array)[] }
  | { kind: 'unknown' }
  | { kind: 'unavailable'; retryAfterSeconds: number };

/** One issuer, its validation rules and its keys, checked once at start-up. */
export class Provider {
  readonly issuer: string;
  readonly audiences: readonly string[] | undefined;
  readonly algorithms: readonly string[];
  readonly clockSkewSeconds: number;
  readonly requiredClaims: readonly string[];
  readonly scopeClaim: string | undefined;
  private readonly source: KeySource | undefined;
  private readonly secret: Uint8Array | undefined;

  constructor(options: JwtProviderOptions, field: string, logger: Logger) {
    if (typeof options.issuer !== 'string' || options.issuer === '') {
      throw new ConfigError(`${field}issuer`, 'is required: tokens are only accepted from a known issuer');
    }
    this.issuer = options.issuer;
    this.audiences = checkStrings(options.audiences, `${field}audiences`);
    // An empty list reads like "no audience check" but refuses every token: say so at start-up.
    if (this.audiences?.length === 0)
      throw new ConfigError(`${field}audiences`, 'is empty: list the accepted audiences, or leave it out');
    this.requiredClaims = checkStrings(options.requiredClaims, `${field}requiredClaims`) ?? ['exp'];
    this.scopeClaim = options.scopeClaim;
    if (this.scopeClaim !== undefined && (typeof this.scopeClaim !== 'string' || this.scopeClaim === '')) {
      throw new ConfigError(`${field}scopeClaim`, 'must be a claim name');
    }
    const skew = options.clockSkewSeconds ?? 30;
    if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0 || skew > 600) {
      throw new ConfigError(`${field}clockSkewSeconds`, 'must be a number of seconds between 0 and 600');
    }
    this.clockSkewSeconds = skew;

    const algorithms = checkStrings(options.algorithms, `${field}algorithms`) ?? [...ASYMMETRIC_ALGORITHMS];
    if (algorithms.length === 0)
      throw new ConfigError(`${field}algorithms`, 'must list at least one algorithm');
    for (const alg of algorithms) {
      if (!isAsymmetric(alg) && !isHmac(alg)) {
        throw new ConfigError(`${field}algorithms`, `"${alg}" is not a supported signature algorithm`);
      }
    }
    this.algorithms = algorithms;
    const hmac = algorithms.filter(isHmac);

    const redirects = options.allowSameOriginRedirects ?? false;
    if (typeof redirects !== 'boolean')
      throw new ConfigError(`${field}allowSameOriginRedirects`, 'must be true or false');
    if (typeof options.secret === 'function') {
      throw new ConfigError(
        `${field}secret`,
        "is a function (jwks-rsa's expressJwtSecret?): give the JWKS URL as `jwks: { url }` instead",
      );
    }
    if (options.secret !== undefined) {
      if (redirects) {
        throw new ConfigError(
          `${field}allowSameOriginRedirects`,
          'applies only to jwks.url and OIDC discovery',
        );
      }
      if (options.jwks !== undefined) {
        throw new ConfigError(
          `${field}secret`,
          'cannot be combined with jwks in one provider; use two providers',
        );
      }
      if (hmac.length !== algorithms.length) {
        throw new ConfigError(`${field}algorithms`, 'with a secret, list only HS256, HS384 or HS512');
      }
      if (typeof options.secret === 'string' && isSecretReference(options.secret)) {
        throw new ConfigError(
          `${field}secret`,
          'is written as a reference (such as $NAME), which is not resolved here: it would be the HMAC secret itself; pass process.env.NAME',
        );
      }
      const secret =
        typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
      if (!(secret instanceof Uint8Array))
        throw new ConfigError(`${field}secret`, 'must be a string or a Uint8Array');
      for (const alg of hmac) {
        const minimum = HMAC_ALGORITHMS[alg]!;
        if (secret.byteLength < minimum) {
          throw new ConfigError(
            `${field}secret`,
            `is ${secret.byteLength} bytes; ${alg} needs at least ${minimum}`,
          );
        }
      }
      this.secret = secret;
      return;
    }
    if (hmac.length > 0) {
      throw new ConfigError(
        `${field}algorithms`,
        `${hmac.join(', ')} need an explicit \`secret\`; keys from a JWKS are never used for HMAC`,
      );
    }
    this.source = keySource(options.jwks, options.issuer, redirects, field, logger);
  }

  /** The keys that may verify a token with this kid and alg; refetches once for an unknown kid. */
  async keysFor(kid: string | undefined, alg: string): Promise<KeyLookup> {
    if (this.secret !== undefined) return { kind: 'keys', keys: [this.secret] };
    const source = this.source!;
    let set = source.current();
    if (set === undefined) {
      await source.ready();
      set = source.current();
      if (set === undefined) return { kind: 'unavailable', retryAfterSeconds: source.retryAfterSeconds() };
    }
    let candidates = set.candidates(kid, alg);
    if (candidates.length === 0 && kid !== undefined && !set.hasKid(kid)) {
      await source.refreshForUnknownKid();
      candidates = source.current()?.candidates(kid, alg) ?? [];
    }
    if (candidates.length === 0) return { kind: 'unknown' };
    return { kind: 'keys', keys: candidates.map((candidate) => candidate.key) };
  }

  /** Whether `key` still verifies for this provider: a cached verification dies with its key. */
  holdsKey(key: KeyObject | Uint8Array): boolean {
    if (this.secret !== undefined) return key === this.secret;
    return !(key instanceof Uint8Array) && (this.source?.current()?.contains(key) ?? false);
  }

  /** Whether this provider currently knows the kid (to choose between providers of one issuer). */
  knowsKid(kid: string): boolean {
    return this.secret !== undefined || (this.source?.current()?.hasKid(kid) ?? false);
  }

  close(): void {
    this.source?.close();
  }
}

function checkStrings(value: readonly string[] | undefined, field: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new ConfigError(field, 'must be an array of non-empty strings');
  }
  return value;
}

function keySource(
  jwks: JwksOption | undefined,
  issuer: string,
  allowSameOriginRedirects: boolean,
  field: string,
  logger: Logger,
): KeySource {
  if (jwks === undefined) {
    const problem = discoveryProblem(issuer);
    if (problem !== undefined) {
      throw new ConfigError(
        `${field}jwks`,
        `is required unless the issuer can be used for OIDC discovery: ${problem}`,
      );
    }
    const timing = DEFAULT_REMOTE_TIMING;
    const fetchOptions: FetchJsonOptions = { timeoutMs: timing.timeoutMs, allowSameOriginRedirects };
    let discovered: string | undefined;
    const resolve = async () => {
      discovered ??= await discoverJwksUrl(issuer, fetchOptions);
      return discovered;
    };
    return new RemoteKeySource(
      resolve,
      `jwks of ${displayUrl(issuer)} (discovery)`,
      timing,
      fetchOptions,
      logger,
    );
  }
  if (typeof jwks !== 'object' || jwks === null)
    throw new ConfigError(`${field}jwks`, 'must be { url }, { file } or { inline }');
  if (!('url' in jwks) && allowSameOriginRedirects) {
    throw new ConfigError(`${field}allowSameOriginRedirects`, 'applies only to jwks.url and OIDC discovery');
  }
  // One spelling: the option covers discovery too, which has no jwks object to hold it.
  if ('allowSameOriginRedirects' in jwks) {
    throw new ConfigError(
      `${field}jwks.allowSameOriginRedirects`,
      'is a provider option: write `allowSameOriginRedirects` beside `jwks`, not inside it',
    );
  }
  refuseUnknownKeys(jwks, JWKS_KEYS, `${field}jwks`);
  // Two sources in one jwks used to be settled by a silent precedence (url first).
  const form = atMostOne(jwks, ['url', 'file', 'inline'], `${field}jwks`, 'one provider has one key source');
  if (form === undefined) throw new ConfigError(`${field}jwks`, 'must be { url }, { file } or { inline }');
  refuseUnknownKeys(jwks, JWKS_FORM_KEYS[form], `${field}jwks`, true);
  if ('url' in jwks && form === 'url') {
    let url: URL;
    try {
      url = new URL(jwks.url);
    } catch {
      throw new ConfigError(`${field}jwks.url`, 'is not a URL');
    }
    // Never echo the URL: it may hold a password.
    const problem = unfetchableUrl(url);
    if (problem !== undefined) throw new ConfigError(`${field}jwks.url`, problem);
    const timing = { ...DEFAULT_REMOTE_TIMING };
    if (jwks.timeoutMs !== undefined)
      timing.timeoutMs = bounded(jwks.timeoutMs, 60_000, `${field}jwks.timeoutMs`);
    if (jwks.cooldownSeconds !== undefined) {
      timing.cooldownMs = bounded(jwks.cooldownSeconds, 3600, `${field}jwks.cooldownSeconds`) * 1000;
    }
    const target = url.href;
    const fetchOptions: FetchJsonOptions = { timeoutMs: timing.timeoutMs, allowSameOriginRedirects };
    return new RemoteKeySource(async () => target, `jwks ${displayUrl(url)}`, timing, fetchOptions, logger);
  }
  if ('file' in jwks && form === 'file') {
    if (typeof jwks.file !== 'string' || jwks.file === '')
      throw new ConfigError(`${field}jwks.file`, 'must be a path');
    return new FileKeySource(jwks.file, `${field}jwks.file`, logger);
  }
  if ('inline' in jwks && form === 'inline') {
    try {
      return new StaticKeySource(KeySet.parse(jwks.inline));
    } catch (error) {
      throw new ConfigError(`${field}jwks.inline`, (error as Error).message);
    }
  }
  throw new ConfigError(`${field}jwks`, 'must be { url }, { file } or { inline }');
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

// Bounded so no timer ever exceeds Node's 2^31 ms limit (beyond it a timer fires at once).
function bounded(value: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new ConfigError(field, `must be a number greater than 0 and at most ${max}`);
  }
  return value;
}
