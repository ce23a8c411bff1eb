import { hash } from 'node:crypto';
import { optionsObject, parseOptions } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { memoryStore } from './memory.js';
import type { Store } from './store.js';
import { STORE } from './store-option.js';

/** Options of {@link replayCache}. */
export interface ReplayCacheOptions {
  /** Shared by every replica on it: `redisStore({ client })`. Default: a memory store of its own. */
  store?: Store;
}

const REPLAY_CACHE_OPTIONS = optionsObject('replayCache', { store: STORE.optional() });

/** Values seen once (a DPoP proof's `jti`, a nonce), each for a while. */
export interface ReplayCache {
  /**
   * True when `key` was not seen within its TTL (this call records it for `ttlSeconds`), false
   * when it was: a replay. Strongly consistent across the replicas of one store. Rejects when
   * the store cannot answer in time: treat that as a refusal (fail closed), never as true.
   */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
  /** Closes the store it made itself (not one given in the options). */
  close(): Promise<void>;
}

/**
 * A replay cache over a store's `setIfAbsent`: one round trip per claim on Redis. Keys are kept
 * as their SHA-256 digest under "replay:", so a client-chosen value has a fixed size in the store
 * and cannot name any other entry of it.
 */
export function replayCache(options: ReplayCacheOptions = {}): ReplayCache {
  const parsed = parseOptions(REPLAY_CACHE_OPTIONS, options);
  const ownStore = parsed.store === undefined ? memoryStore() : undefined;
  const store = parsed.store ?? ownStore!;
  return {
    claim(key, ttlSeconds) {
      if (typeof key !== 'string' || key === '')
        return Promise.reject(new ConfigError('key', 'must be a non-empty string'));
      if (
        typeof ttlSeconds !== 'number' ||
        !Number.isFinite(ttlSeconds) ||
        ttlSeconds <= 0 ||
        ttlSeconds > 31_536_000
      )
        return Promise.reject(
          new ConfigError('ttlSeconds', 'must be a number of seconds above 0, at most 31536000'),
        );
      return store.setIfAbsent(`replay:${hash('sha256', key, 'hex')}`, ttlSeconds);
    },
    async close() {
      await ownStore?.close();
    },
  };
}
