/**
 * Shared state for several gateway replicas (issue 13): what apiKeyAuth's keys, jwtAuth's
 * revocations and the DPoP replay cache depend on, and nothing more. Two implementations ship:
 * `memoryStore()` (one process; the default, today's behaviour) and `redisStore({ client })`.
 * Another backend (Postgres LISTEN/NOTIFY, etcd) implements these two interfaces.
 *
 * The consistency design every implementation must keep:
 * - Durable state lives in the backend; every replica keeps a full local copy of each
 *   collection, so the request path never waits on the network (no round trip per request).
 * - Change notifications (pub/sub) are only a hint that makes propagation fast. Correctness
 *   comes from a version the replica checks every `pollIntervalMs`: a missed notification is
 *   caught at the next check, and a replica that fell too far behind (or reconnects) resyncs the
 *   whole collection.
 * - `status()` says how stale the local copy may be. A consumer serves from it while it was
 *   confirmed in sync within `maxStaleSeconds`; past that it fails closed (503, Retry-After).
 * - Writes (`put`, `delete`) go to the backend first and are applied locally once it
 *   acknowledged them. A write refused before it was sent (backend unreachable) changed nothing;
 *   one that timed out may still be carried out once the backend answers (then every replica
 *   takes it): a rejection means "not confirmed", and writes are idempotent, so retry them.
 */

/** A JSON value as stored: what `JSON.stringify` round-trips. */
export type StoredValue = null | boolean | number | string | StoredValue[] | { [key: string]: StoredValue };

/** How fresh a replica's local copy is. */
export interface SyncStatus {
  /** True once the copy was confirmed in sync with the backend within the staleness bound. */
  readonly fresh: boolean;
  /** When the copy was last confirmed in sync (epoch ms); undefined before the first sync. */
  readonly syncedAt: number | undefined;
  /** For a 503 when not fresh: seconds until the next attempt to sync. */
  readonly retryAfterSeconds: number;
}

/** One change, as a collection's listeners see it: `value` undefined means deleted. */
export interface Change {
  readonly field: string;
  readonly value: StoredValue | undefined;
}

/**
 * A replicated map of JSON values (fields are strings such as a key's digest), with a full
 * local copy on every replica. Reads are synchronous and local; writes are durable first.
 */
export interface Collection {
  /** The local copy: synchronous, never touches the network. */
  get(field: string): StoredValue | undefined;
  /** Every entry of the local copy. */
  entries(): IterableIterator<[string, StoredValue]>;
  /** Writes `value` at `field` in the backend, then locally; rejects when not confirmed (see above). */
  put(field: string, value: StoredValue): Promise<void>;
  /** Deletes `field` in the backend, then locally. */
  delete(field: string): Promise<void>;
  /**
   * Deletes `field` only while its stored value is still `expected`, compared in the backend in
   * one step: true when it deleted. For clean-ups, which must never remove a value another
   * replica wrote after this one last saw it (a revocation renewed meanwhile).
   */
  deleteIf(field: string, expected: StoredValue): Promise<boolean>;
  /**
   * Calls `listener` for every change the local copy takes, local writes included, in order.
   * Returns the function that stops it (a middleware closed while its store lives on must not
   * keep its listener, and its index, alive).
   */
  onChange(listener: (change: Change) => void): () => void;
  /** How fresh the local copy is now. */
  status(): SyncStatus;
  /**
   * How many fields the local copy holds. Optional: a consumer that finds it skips its lookups
   * when the copy is empty (jwtAuth's revocation check, on every request), and looks up as
   * before when it is absent.
   */
  size?(): number;
  /** Resolves after the first successful sync (at once for memory). Never rejects. */
  ready(): Promise<void>;
}

/** What a store offers its consumers. */
export interface Store {
  /** What the logs and errors call it: "memory", "redis". */
  readonly kind: string;
  /** The collection named `name` (created on first use; the same object for the same name). */
  collection(name: string): Collection;
  /**
   * Records `key` for `ttlSeconds` unless it is already recorded: true when this call recorded
   * it (first use), false when it was there. Strongly consistent across replicas (no local
   * copy). Rejects when the backend cannot answer in time: callers fail closed.
   */
  setIfAbsent(key: string, ttlSeconds: number): Promise<boolean>;
  /** Stops timers and closes the connections the store opened (not a client it was given). */
  close(): Promise<void>;
}
