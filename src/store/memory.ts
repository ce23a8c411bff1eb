import { type Logger, loggerOption } from '../logger.js';
import { checkedName, LocalCopy, storedForm, ttlMilliseconds } from './local-copy.js';
import type { Change, Collection, Store, StoredValue, SyncStatus } from './store.js';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** Where a change listener that throws is reported; console by default. */
  logger?: Logger;
}

/**
 * The store of one process (the default): collections are plain maps, so a write is applied
 * (and its listeners told) synchronously, before the promise it returns settles, and the copy is
 * always fresh. Nothing is shared with another process: for several replicas use redisStore().
 */
// The copy is the store: always in sync. One object for every call, since consumers ask on every
// request (no allocation, no clock read unless `syncedAt` is read).
const IN_SYNC: SyncStatus = Object.freeze({
  fresh: true,
  get syncedAt() {
    return Date.now();
  },
  retryAfterSeconds: 0,
});

export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const logger = loggerOption(options.logger, 'logger');
  const collections = new Map<string, Collection>();
  /** setIfAbsent's keys and when each expires (epoch ms). */
  const claims = new Map<string, number>();
  let closed = false;
  let nextSweep = 0;

  const whenOpen = (): void => {
    if (closed) throw new Error('store: closed');
  };

  return {
    kind: 'memory',
    collection(name) {
      checkedName(name, 'a collection name');
      let collection = collections.get(name);
      if (collection === undefined) {
        collection = memoryCollection(new LocalCopy((message) => logger.warn(message)), whenOpen);
        collections.set(name, collection);
      }
      return collection;
    },
    async setIfAbsent(key, ttlSeconds) {
      checkedName(key, 'a setIfAbsent key');
      const ttl = ttlMilliseconds(ttlSeconds);
      whenOpen();
      // The monotonic clock: a wall clock stepped forward would forget claims early (a replay
      // accepted), one stepped back would keep them, and skip the sweep, for as long as the step.
      const now = performance.now();
      // Expired claims are dropped in one pass at most once a second: the map stays bounded by
      // what the last TTLs hold, with no timer to keep the process alive.
      if (now >= nextSweep) {
        for (const [known, expiresAt] of claims) if (expiresAt <= now) claims.delete(known);
        nextSweep = now + 1000;
      }
      const expiresAt = claims.get(key);
      if (expiresAt !== undefined && expiresAt > now) return false;
      claims.set(key, now + ttl);
      return true;
    },
    async close() {
      closed = true;
      claims.clear();
    },
  };
}

function memoryCollection(copy: LocalCopy, whenOpen: () => void): Collection {
  const ready = Promise.resolve();
  return {
    get: (field) => copy.get(field),
    entries: () => copy.entries(),
    size: () => copy.size,
    // Applied before the promise is made: `await add()` and a plain `add()` see the same map.
    put(field: string, value: StoredValue) {
      try {
        checkedName(field, 'a field');
        whenOpen();
        copy.apply(field, storedForm(value).value);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    },
    delete(field: string) {
      try {
        checkedName(field, 'a field');
        whenOpen();
        copy.apply(field, undefined);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    },
    deleteIf(field: string, expected: StoredValue) {
      try {
        checkedName(field, 'a field');
        whenOpen();
        const current = copy.get(field);
        // The copy is the store here: compared in the same stored (JSON) form as Redis compares.
        if (current === undefined || JSON.stringify(current) !== storedForm(expected).json) {
          return Promise.resolve(false);
        }
        copy.apply(field, undefined);
        return Promise.resolve(true);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    onChange: (listener: (change: Change) => void) => copy.onChange(listener),
    status: (): SyncStatus => IN_SYNC,
    ready: () => ready,
  };
}
