import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { ConfigError } from '../errors.js';

/** Settings of a verification cache; `false` turns it off. */
export type CacheOptions = false | { maxEntries?: number; ttlSeconds?: number };

const CACHE_KEYS = keysOf<Exclude<CacheOptions, false>>()(
  'cache',
  { maxEntries: true, ttlSeconds: true },
  { max: 'maxEntries', size: 'maxEntries', maxSize: 'maxEntries', ttl: 'ttlSeconds', maxAge: 'ttlSeconds' },
);

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
    if (options === false) return undefined;
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw new ConfigError(field, 'must be { maxEntries?, ttlSeconds? } or false');
    if (options !== undefined) refuseUnknownKeys(options, CACHE_KEYS, field);
    const maxEntries = options?.maxEntries ?? defaults.maxEntries;
    const ttlSeconds = options?.ttlSeconds ?? defaults.ttlSeconds;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 1_000_000) {
      throw new ConfigError(`${field}.maxEntries`, 'must be an integer from 1 to 1000000');
    }
    if (typeof ttlSeconds !== 'number' || !(ttlSeconds > 0) || ttlSeconds > 86_400) {
      throw new ConfigError(`${field}.ttlSeconds`, 'must be a number of seconds from 0 to 86400');
    }
    return new BoundedCache<V>(maxEntries, ttlSeconds * 1000);
  }

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-inserting keeps the Map's order least-recently-used first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (never later than now + ttl). */
  set(key: string, value: V, expiresAt = Number.POSITIVE_INFINITY, now = Date.now()): void {
    const until = Math.min(expiresAt, now + this.ttlMs);
    if (until <= now) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: until });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
