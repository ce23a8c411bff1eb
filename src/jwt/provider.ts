import type { KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { displayUrl } from '../http/display-url.js';
import type { FetchJsonOptions } from '../http/fetch-json.js';
import type { Logger } from '../logger.js';
import { ASYMMETRIC_ALGORITHMS } from './algorithms.js';
import { FileKeySource } from './file-key-source.js';
import { KeySet, type VerificationKey } from './key-set.js';
import { type KeySource, StaticKeySource } from './key-source.js';
import type { JwksOption, JwtProviderOptions } from './options.js';
import { secretBytes } from './provider-checks.js';
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

  /**
   * Builds a provider from options parsed by JWT_AUTH_OPTIONS (every check made there); `field`
   * (`providers[1].`) names it in what only a key source can find (an unreadable file).
   */
  constructor(options: JwtProviderOptions, field: string, logger: Logger) {
    this.issuer = options.issuer;
    this.audiences = options.audiences;
    this.requiredClaims = options.requiredClaims ?? ['exp'];
    this.scopeClaim = options.scopeClaim;
    this.clockSkewSeconds = options.clockSkewSeconds ?? 30;
    this.algorithms = options.algorithms ?? [...ASYMMETRIC_ALGORITHMS];
    if (options.secret !== undefined) {
      this.secret = secretBytes(options.secret);
      return;
    }
    const redirects = options.allowSameOriginRedirects ?? false;
    this.source = keySource(options.jwks, options.issuer, redirects, field, logger);
  }

  /**
   * The keys that may verify a token with this kid and alg; refetches once for an unknown kid.
   * Synchronous when the answer is in memory (a secret, or a key set that holds the kid): an
   * async function's promise and the await on it cost the new-token path microtask turns.
   */
  keysFor(kid: string | undefined, alg: string): KeyLookup | Promise<KeyLookup> {
    if (this.secret !== undefined) return { kind: 'keys', keys: [this.secret] };
    const set = this.source!.current();
    if (set === undefined) return this.keysLater(kid, alg);
    const candidates = set.candidates(kid, alg);
    if (candidates.length === 0 && kid !== undefined && !set.hasKid(kid)) return this.keysLater(kid, alg);
    return lookupOf(candidates);
  }

  /** keysFor when it must wait: for the first key set, or for a refetch on an unknown kid. */
  private async keysLater(kid: string | undefined, alg: string): Promise<KeyLookup> {
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
    return lookupOf(candidates);
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

function lookupOf(candidates: readonly VerificationKey[]): KeyLookup {
  if (candidates.length === 0) return { kind: 'unknown' };
  return { kind: 'keys', keys: candidates.map((candidate) => candidate.key) };
}

function keySource(
  jwks: JwksOption | undefined,
  issuer: string,
  allowSameOriginRedirects: boolean,
  field: string,
  logger: Logger,
): KeySource {
  if (jwks === undefined) {
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
  // Parsed: exactly one form is given; the others may be present as `undefined`.
  const { url, timeoutMs, cooldownSeconds, file, inline } = jwks as Partial<
    Extract<JwksOption, { url: string }> & Extract<JwksOption, { file: string }>
  > & { inline?: Extract<JwksOption, { inline: unknown }>['inline'] };
  if (url !== undefined) {
    const target = new URL(url);
    const timing = { ...DEFAULT_REMOTE_TIMING };
    // Bounded by the schema so no timer exceeds Node's 2^31 ms limit (beyond it a timer fires at once).
    if (timeoutMs !== undefined) timing.timeoutMs = timeoutMs;
    if (cooldownSeconds !== undefined) timing.cooldownMs = cooldownSeconds * 1000;
    const fetchOptions: FetchJsonOptions = { timeoutMs: timing.timeoutMs, allowSameOriginRedirects };
    return new RemoteKeySource(
      async () => target.href,
      `jwks ${displayUrl(target)}`,
      timing,
      fetchOptions,
      logger,
    );
  }
  if (file !== undefined) return new FileKeySource(file, `${field}jwks.file`, logger);
  try {
    return new StaticKeySource(KeySet.parse(inline));
  } catch (error) {
    throw new ConfigError(`${field}jwks.inline`, (error as Error).message);
  }
}
