import { hash } from 'node:crypto';
import { BoundedCache, type CacheOptions } from '../cache/bounded-cache.js';
import type { Provider } from './provider.js';
import type { VerifyKey } from './verify.js';

/** What a successful verification leaves behind. */
interface Verified {
  claims: Readonly<Record<string, unknown>>;
  scopes: readonly string[];
  provider: Provider;
  key: VerifyKey;
  exp: number | undefined;
  nbf: number | undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const seconds = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/**
 * Verified tokens, keyed by a SHA-256 digest of the whole token (the token itself is not
 * kept). Claims are frozen: they are shared by every request that presents the token.
 */
export class VerifiedTokens {
  private readonly cache: BoundedCache<Verified> | undefined;

  constructor(options: CacheOptions | undefined) {
    this.cache = BoundedCache.fromOptions<Verified>(options, 'cache', {
      maxEntries: 10_000,
      ttlSeconds: 300,
    });
  }

  private static digest(token: string): string {
    // The one-shot hash: about half the cost of createHash().update().digest() per token.
    return hash('sha256', token, 'base64');
  }

  /** A cached verification that still holds now: within exp/nbf (with skew), key still in force. */
  lookup(token: string): Verified | undefined {
    if (this.cache === undefined) return undefined;
    const digest = VerifiedTokens.digest(token);
    const hit = this.cache.get(digest);
    if (hit === undefined) return undefined;
    const now = Date.now() / 1000;
    const skew = hit.provider.clockSkewSeconds;
    const expired = hit.exp !== undefined && now > hit.exp + skew;
    const early = hit.nbf !== undefined && now < hit.nbf - skew;
    if (expired || early || !hit.provider.holdsKey(hit.key)) {
      this.cache.delete(digest);
      return undefined;
    }
    return hit;
  }

  /** Remembers a verification, never past the token's own expiry. Returns the frozen claims. */
  remember(token: string, verified: Verified): Readonly<Record<string, unknown>> {
    deepFreeze(verified.claims);
    if (this.cache === undefined) return verified.claims;
    const exp = verified.exp;
    const until =
      exp === undefined ? Number.POSITIVE_INFINITY : (exp + verified.provider.clockSkewSeconds) * 1000;
    this.cache.set(VerifiedTokens.digest(token), verified, until);
    return verified.claims;
  }

  static timesOf(claims: Record<string, unknown>): { exp: number | undefined; nbf: number | undefined } {
    return { exp: seconds(claims.exp), nbf: seconds(claims.nbf) };
  }
}
