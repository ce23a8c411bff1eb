import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../src/cache/bounded-cache.js';

// The verification caches evict least-recently-used first, through one iterator kept between
// evictions (so a full cache under a stream of new entries does not rescan the holes deleted
// entries leave). Checked here against a plain reference model over many thousands of steps.

/** A deterministic pseudo-random sequence (xorshift32), so a failure replays exactly. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

describe('BoundedCache', () => {
  it('evicts exactly what a least-recently-used model evicts, through gets, sets, deletes and clears', () => {
    // `hot`: the share of steps on the key used last, as when one client repeats its token (a
    // hit on the newest entry is not re-inserted: it is already where re-inserting puts it).
    for (const [seed, capacity, keySpace, hot] of [
      [1, 1, 4, 0],
      [2, 8, 40, 0],
      [3, 100, 250, 0],
      [4, 1000, 1500, 0],
      [5, 1, 3, 0.5],
      [6, 8, 40, 0.6],
      [7, 100, 250, 0.8],
    ] as const) {
      const next = random(seed);
      const cache = new BoundedCache<number>(capacity, 3_600_000);
      const model: string[] = []; // least recently used first
      const touch = (key: string) => {
        const at = model.indexOf(key);
        if (at !== -1) model.splice(at, 1);
        model.push(key);
      };
      let last = 'k0';
      for (let step = 0; step < 20_000; step++) {
        const key = next() < hot ? last : `k${Math.floor(next() * keySpace)}`;
        last = key;
        const roll = next();
        if (roll < 0.45) {
          cache.set(key, step, Number.POSITIVE_INFINITY, 0);
          touch(key);
          if (model.length > capacity) model.shift();
        } else if (roll < 0.9) {
          const hit = cache.get(key, 0);
          expect(hit !== undefined, `step ${step}: get ${key}`).toBe(model.includes(key));
          if (hit !== undefined) touch(key);
        } else if (roll < 0.999) {
          cache.delete(key);
          const at = model.indexOf(key);
          if (at !== -1) model.splice(at, 1);
        } else {
          cache.clear();
          model.length = 0;
        }
        expect(cache.size).toBe(model.length);
      }
      for (const key of model) expect(cache.get(key, 0)).not.toBeUndefined();
    }
  });

  it('keeps the newest entries of a long stream of new keys, never more than its bound', () => {
    const cache = new BoundedCache<number>(1000, 3_600_000);
    for (let i = 0; i < 50_000; i++) cache.set(`token-${i}`, i, Number.POSITIVE_INFINITY, 0);
    expect(cache.size).toBe(1000);
    expect(cache.get('token-48999', 0)).toBeUndefined();
    expect(cache.get('token-49000', 0)).toBe(49_000);
    expect(cache.get('token-49999', 0)).toBe(49_999);
  });

  it('expires entries by their own time and by the ttl', () => {
    const cache = new BoundedCache<string>(10, 1000);
    cache.set('a', 'A', 500, 0);
    cache.set('b', 'B', Number.POSITIVE_INFINITY, 0);
    expect(cache.get('a', 499)).toBe('A');
    expect(cache.get('a', 500)).toBeUndefined();
    expect(cache.get('b', 999)).toBe('B');
    expect(cache.get('b', 1000)).toBeUndefined();
  });
});
