import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { logText } from '../logging/log-text.js';
import type { Collection, StoredValue } from '../store/store.js';
import { KeyIndex } from './key-index.js';
import {
  type ApiKeyInfo,
  type ApiKeyRecord,
  infoOf,
  lookupKeyOfDigest,
  type StoredApiKey,
  storeRecord,
} from './records.js';

/** The collection apiKeyAuth keeps its records in, on every store. */
export const API_KEYS_COLLECTION = 'apikeys';

/** A field of the collection: the hex SHA-256 of a key (lower case), never the key. */
const DIGEST = /^[0-9a-f]{64}$/;

/** Keys managed at run time through the store; every change applies from the next request on. */
export interface ApiKeyManager {
  /**
   * Adds a key (same checks as at start-up) in the store: every replica takes it. Throws a
   * ConfigError at once for a bad record or a duplicate name or key; the promise rejects when
   * the store did not confirm the write (refused: nothing changed; timed out: it may still land
   * once Redis answers, so check list() or revoke it).
   */
  add(record: ApiKeyRecord): Promise<void>;
  /**
   * Revokes every key of that name in the store, seeded keys included; resolves to false when
   * this replica knows no such key. Rejects when the store could not write it.
   */
  revoke(name: string): Promise<boolean>;
  /** Every key of this replica's copy (seeds and stored records), without secrets. */
  list(): ApiKeyInfo[];
}

/**
 * The keys in force on this replica: the seeds (inline or file, local to the process) overlaid
 * by the records of the store's "apikeys" collection, which win on the same digest (so a seed
 * revoked through the store is revoked on every replica). A stored record holds no plaintext:
 * its field is the key's digest, its value the record's name, scopes, metadata, expiry and
 * revocation.
 *
 * The request path reads one Map by the digest's lookup key (records.ts), kept up to date by the
 * collection's change events: no promise, no network.
 */
export class SharedKeys implements ApiKeyManager {
  private seeds: ReadonlyMap<string, StoredApiKey> = new Map();
  private readonly effective = new Map<string, StoredApiKey>();
  private readonly stopListening: () => void;

  constructor(
    private readonly collection: Collection,
    private readonly logger: Logger,
  ) {
    this.stopListening = collection.onChange(({ field, value }) => this.take(field, value));
  }

  /** Stops following the collection (the middleware closed; the store may live on). */
  detach(): void {
    this.stopListening();
  }

  /** The key a presented key's lookup key (lookupKeyOf) names, seeds and stored records together. */
  lookup(lookupKey: string): StoredApiKey | undefined {
    return this.effective.get(lookupKey);
  }

  /** The same among the seeds only (served before the first sync, when allowed). */
  lookupSeed(lookupKey: string): StoredApiKey | undefined {
    return this.seeds.get(lookupKey);
  }

  /** Replaces the seeds (start-up, a keys file reload) and rebuilds the keys in force. */
  setSeeds(seeds: readonly StoredApiKey[]): void {
    this.seeds = new Map(seeds.map((seed) => [lookupKeyOfDigest(seed.digest), seed]));
    // Rebuilt synchronously: no request can see a half-built map.
    this.effective.clear();
    for (const [lookupKey, seed] of this.seeds) this.effective.set(lookupKey, seed);
    for (const [field, value] of this.collection.entries()) this.take(field, value);
  }

  /**
   * Throws when `seeds` repeat a name or key among themselves, or clash with a stored record
   * (a name it has with another key, or its key under another name): a keys file version that
   * does is refused and the last good set stays.
   */
  checkSeeds(seeds: readonly StoredApiKey[]): void {
    new KeyIndex(seeds);
    const stored = [...this.storedKeys()];
    for (const seed of seeds) {
      for (const [digest, record] of stored) {
        if (record.name === seed.name && digest !== seed.digest)
          throw new Error(`the name "${logText(seed.name, 64)}" is used twice`);
        if (digest === seed.digest && record.name !== seed.name)
          throw new Error(`"${logText(seed.name, 64)}" has the same key as "${logText(record.name, 64)}"`);
      }
    }
  }

  add(record: ApiKeyRecord): Promise<void> {
    const stored = storedOrThrow(record, 'record');
    for (const known of this.effective.values()) {
      if (known.name === stored.name)
        throw new ConfigError('record', `the name "${logText(stored.name, 64)}" is used twice`);
    }
    const clash = this.effective.get(lookupKeyOfDigest(stored.digest));
    if (clash !== undefined)
      throw new ConfigError(
        'record',
        `"${logText(stored.name, 64)}" has the same key as "${logText(clash.name, 64)}"`,
      );
    // The value is checked as JSON by the store before anything is written.
    return this.collection.put(stored.digest, storedValue(stored));
  }

  revoke(name: string): Promise<boolean> {
    const matches = [...this.effective.values()].filter((key) => key.name === name);
    if (matches.length === 0) return Promise.resolve(false);
    return Promise.all(
      matches.map((key) => this.collection.put(key.digest, storedValue({ ...key, revoked: true }))),
    ).then(() => true);
  }

  list(): ApiKeyInfo[] {
    return [...this.effective.values()].map(infoOf);
  }

  /** Takes one change of the collection (or one entry of a rebuild). */
  private take(field: string, value: StoredValue | undefined): void {
    // Any other field cannot be the digest of a presented key: it can match nothing.
    if (!DIGEST.test(field)) return;
    const lookupKey = lookupKeyOfDigest(field);
    if (value === undefined) {
      const seed = this.seeds.get(lookupKey);
      if (seed === undefined) this.effective.delete(lookupKey);
      else this.effective.set(lookupKey, seed);
      return;
    }
    this.effective.set(lookupKey, this.fromStored(field, value));
  }

  private *storedKeys(): Generator<[string, StoredApiKey]> {
    for (const [field, value] of this.collection.entries())
      if (DIGEST.test(field)) yield [field, this.fromStored(field, value)];
  }

  /**
   * A stored record read back, with the checks of any other record. One that does not pass
   * (written by hand, or by a later version) revokes its key: it may have been written to
   * revoke a seed, and ignoring it would let that key back in.
   */
  private fromStored(digest: string, value: StoredValue): StoredApiKey {
    try {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Error('not an object');
      return storeRecord({ ...(value as object), keyHash: `sha256:${digest}` } as ApiKeyRecord, 'stored');
    } catch {
      this.logger.warn('apiKeyAuth: a stored key record is not valid; its key is refused');
      const name = typeof value === 'object' && value !== null && 'name' in value ? value.name : undefined;
      return {
        name: typeof name === 'string' && name !== '' ? name : '(invalid stored record)',
        digest,
        scopes: [],
        metadata: {},
        expiresAt: undefined,
        revoked: true,
      };
    }
  }
}

/** What the store holds of a key: everything but the key, the digest being the field. */
function storedValue(key: StoredApiKey): StoredValue {
  const value: { [field: string]: StoredValue } = {
    name: key.name,
    scopes: [...key.scopes],
    // Metadata is kept as JSON, as every store holds it.
    metadata: JSON.parse(JSON.stringify(key.metadata)) as StoredValue,
    revoked: key.revoked,
  };
  if (key.expiresAt !== undefined) value.expiresAt = key.expiresAt.toISOString();
  return value;
}

/** A record checked as at start-up; every mistake is a ConfigError naming `field`. */
export function storedOrThrow(record: ApiKeyRecord, field: string): StoredApiKey {
  try {
    return storeRecord(record, field);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(field, (error as Error).message);
  }
}
