import { BoundedCache, type CacheOptions } from '../cache/bounded-cache.js';
import type { Provider } from './provider.js';
import type { VerifyKey } from './verify.js';

/** What a successful verification leaves behind. */
interface Verified {
  /** The token itself: a hit is one only when the whole token is this one. */
  token: string;
  claims: Readonly<Record<string, unknown>>;
  scopes: readonly string[];
  provider: Provider;
  key: VerifyKey;
  exp: number | undefined;
  nbf: number | undefined;
}

/**
 * Freezes `value` and every object under it. Children by Object.keys, which V8 answers from the
 * map's enum cache, where Object.values went to the runtime on every new token (~1.5k
 * instructions of a bench:instructions request); only objects are descended into.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (typeof child === 'object' && child !== null) deepFreeze(child);
    }
  }
  return value;
}

const seconds = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/**
 * How much of a token's end keys the cache: the last 32 characters of its signature (about 190
 * bits), which V8 hashes in a few hundred instructions where hashing the whole 0.8 KB RS256
 * token took 6.9k, and its SHA-256 digest 20k (BENCHMARKS.md). A hit is then confirmed by
 * comparing the whole token, so two tokens sharing an end only share a slot: the later one
 * replaces the earlier, and neither is ever taken for the other.
 */
const KEY_LENGTH = 32;

/**
 * Verified tokens, keyed by the end of their signature and confirmed by the whole token. The
 * cache holds the tokens it verified (up to maxEntries, each until its exp or the cache's TTL),
 * where it held their SHA-256 digests before: the digest was a fifth of a cached request on
 * Express. `cache: false` keeps none. Only verified tokens are inserted, so no client can fill
 * it or choose its keys, and each entry holds a copy of the token alone, never the header it
 * was sliced from. Claims are frozen: they are shared by every request that presents the
 * token.
 */
export class VerifiedTokens {
  private readonly cache: BoundedCache<Verified> | undefined;

  constructor(options: CacheOptions | undefined) {
    this.cache = BoundedCache.fromOptions<Verified>(options, 'cache', {
      maxEntries: 10_000,
      ttlSeconds: 300,
    });
  }

  private static keyOf(token: string): string {
    return token.length > KEY_LENGTH ? token.slice(-KEY_LENGTH) : token;
  }

  /** A cached verification that still holds now: within exp/nbf (with skew), key still in force. */
  lookup(token: string): Verified | undefined {
    if (this.cache === undefined) return undefined;
    const key = VerifiedTokens.keyOf(token);
    const nowMs = Date.now();
    const hit = this.cache.get(key, nowMs);
    if (hit === undefined || hit.token !== token) return undefined;
    const now = nowMs / 1000;
    const skew = hit.provider.clockSkewSeconds;
    const expired = hit.exp !== undefined && now > hit.exp + skew;
    const early = hit.nbf !== undefined && now < hit.nbf - skew;
    if (expired || early || !hit.provider.holdsKey(hit.key)) {
      this.cache.delete(key);
      return undefined;
    }
    return hit;
  }

  /**
   * Remembers a verification, never past the token's own expiry. Freezes the claims (shared by
   * every request that presents the token) and returns them. The entry is built here in one
   * literal: the two object spreads it took before (the times, then the token) were property
   * copies on every new token. With deepFreeze by Object.keys, the audience check without an
   * array and the keys tried by a loop: 445.3k -> 437.1k instructions over bare Express
   * (bench:instructions, express-jwt-new).
   */
  remember(
    token: string,
    claims: Record<string, unknown>,
    scopes: readonly string[],
    provider: Provider,
    key: VerifyKey,
  ): Readonly<Record<string, unknown>> {
    deepFreeze(claims);
    if (this.cache === undefined) return claims;
    const exp = seconds(claims.exp);
    const until = exp === undefined ? Number.POSITIVE_INFINITY : (exp + provider.clockSkewSeconds) * 1000;
    // A copy of its own: the token is a slice of the header (or URL, or Cookie header) it came
    // in, which a client may pad to 16 KB (`Bearer` then spaces) or fill with other secrets; a
    // slice would keep all of that alive for the entry's life (found in review: 16 KB per
    // entry). V8 slices only flat strings, so slicing the space-prefixed pair flattens it into
    // a new string first: the entry keeps that copy (one byte longer), never the header. A
    // latin1 Buffer round trip made the same copy through two native calls and the Buffer pool:
    // remember() 7.3k -> 5.0k instructions a new token (bench:instructions, express-jwt-new,
    // callgrind inclusive).
    const kept = ` ${token}`.slice(1);
    const entry: Verified = { token: kept, claims, scopes, provider, key, exp, nbf: seconds(claims.nbf) };
    this.cache.set(VerifiedTokens.keyOf(kept), entry, until);
    return claims;
  }
}
