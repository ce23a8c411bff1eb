import { bounded, lockedTo, optionsObject, parseOptions, z } from '../config/schema.js';

const NOT_A_CACHE = 'must be { maxEntries?, ttlSeconds? } or false';

/** The schema of a cache's settings: `false`, or an object of optional limits. */
export const CACHE_OPTIONS = z.union(
  [
    z.literal(false),
    optionsObject(
      'cache',
      {
        maxEntries: bounded(1, 1_000_000, 'must be an integer from 1 to 1000000', {
          integer: true,
        }).optional(),
        ttlSeconds: bounded(0, 86_400, 'must be a number of seconds from 0 to 86400', {
          exclusiveMinimum: true,
        }).optional(),
      },
      {
        max: 'maxEntries',
        size: 'maxEntries',
        maxSize: 'maxEntries',
        ttl: 'ttlSeconds',
        maxAge: 'ttlSeconds',
      },
      NOT_A_CACHE,
    ),
  ],
  { error: NOT_A_CACHE },
);

/** Settings of a verification cache; `false` turns it off. */
export type CacheOptions =
  | false
  | {
      /** Entries kept at most (1 to 1,000,000); the least recently used goes first. */
      maxEntries?: number;
      /** How long an entry is kept, in seconds (more than 0, at most 86,400). */
      ttlSeconds?: number;
    };

lockedTo<CacheOptions, z.output<typeof CACHE_OPTIONS>>(true);

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A size-bounded map whose entries expire: least recently used entries go first when full.
 * Used for successful verifications only (never for failures), so a flood of bad
 * credentials cannot fill it.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /**
   * Walks the keys oldest first, kept between evictions. A fresh `keys().next()` per eviction
   * would skip every entry deleted since the Map last compacted itself (thousands, in a full
   * cache under a stream of new tokens: 4.6k instructions per request, BENCHMARKS.md); this
   * one passes each only once. A key used again is re-inserted at the end, so it is met again
   * after the younger ones: the order stays least-recently-used first.
   */
  private oldest: Iterator<string> | undefined;
  /**
   * The entry last inserted, the Map's last: a hit on it (one client repeating its token) is
   * already where re-inserting would put it. Re-inserting anyway deleted the Map's only live
   * entry and added it back, which made V8 shrink and rebuild the table on every request (2k
   * instructions per cached token, BENCHMARKS.md). Cleared when its entry goes, so it never
   * keeps a deleted value alive.
   */
  private newest: Entry<V> | undefined;

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {}

  /** Reads options at start-up; undefined when the cache is turned off. */
  static fromOptions<V>(
    options: CacheOptions | undefined,
    field: string,
    defaults: { maxEntries: number; ttlSeconds: number },
  ): BoundedCache<V> | undefined {
    const settings = options === undefined ? {} : parseOptions(CACHE_OPTIONS, options, field);
    if (settings === false) return undefined;
    const maxEntries = settings.maxEntries ?? defaults.maxEntries;
    const ttlSeconds = settings.ttlSeconds ?? defaults.ttlSeconds;
    return new BoundedCache<V>(maxEntries, ttlSeconds * 1000);
  }

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.expiresAt) {
      this.delete(key);
      return undefined;
    }
    if (entry !== this.newest) {
      // Re-inserting keeps the Map's order least-recently-used first.
      this.entries.delete(key);
      this.entries.set(key, entry);
      this.newest = entry;
    }
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (never later than now + ttl). */
  set(key: string, value: V, expiresAt = Number.POSITIVE_INFINITY, now = Date.now()): void {
    const until = Math.min(expiresAt, now + this.ttlMs);
    if (until <= now) return;
    const entry = { value, expiresAt: until };
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.newest = entry;
    if (this.entries.size > this.maxEntries) this.evictOldest();
  }

  private evictOldest(): void {
    let next = this.oldest?.next();
    if (next === undefined || next.done === true) {
      this.oldest = this.entries.keys();
      next = this.oldest.next();
    }
    if (next.done !== true) this.entries.delete(next.value);
  }

  delete(key: string): void {
    if (this.newest !== undefined && this.entries.get(key) === this.newest) this.newest = undefined;
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.oldest = undefined;
    this.newest = undefined;
  }

  get size(): number {
    return this.entries.size;
  }
}
