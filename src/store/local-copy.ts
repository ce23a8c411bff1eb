import type { Change, StoredValue } from './store.js';

/**
 * One replica's copy of a collection: the map the request path reads, and the listeners told of
 * each change in order. Shared by every store so they agree on what a stored value is.
 */
export class LocalCopy {
  readonly #values = new Map<string, StoredValue>();
  // A Set: a listener removed while changes are told is simply not called again.
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #report: (message: string) => void;

  constructor(report: (message: string) => void) {
    this.#report = report;
  }

  get(field: string): StoredValue | undefined {
    return this.#values.get(field);
  }

  entries(): IterableIterator<[string, StoredValue]> {
    return this.#values.entries();
  }

  get size(): number {
    return this.#values.size;
  }

  onChange(listener: (change: Change) => void): () => void {
    // Wrapped, so the same function given twice is two listeners, each removed on its own.
    const entry = (change: Change) => listener(change);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Takes one change; tells the listeners only when the copy actually changed. */
  apply(field: string, value: StoredValue | undefined): void {
    const before = this.#values.get(field);
    if (value === undefined) {
      if (!this.#values.has(field)) return;
      this.#values.delete(field);
    } else {
      if (before !== undefined && sameValue(before, value)) return;
      this.#values.set(field, value);
    }
    this.#tell({ field, value });
  }

  /** Replaces the whole copy with `next` (a full resync), telling the listeners of each difference. */
  replace(next: ReadonlyMap<string, StoredValue>): void {
    for (const field of [...this.#values.keys()]) if (!next.has(field)) this.apply(field, undefined);
    for (const [field, value] of next) this.apply(field, value);
  }

  #tell(change: Change): void {
    for (const listener of this.#listeners) {
      // One failing listener must neither stop the others nor break the sync loop that called it.
      try {
        listener(change);
      } catch (error) {
        this.#report(`store: a change listener threw (${(error as Error)?.name ?? 'error'})`);
      }
    }
  }
}

/**
 * What a collection keeps of a value given to `put`: its JSON form read back, frozen. Every store
 * keeps the same thing (Redis holds the JSON text), so a caller that mutates the object it gave,
 * or one it read, cannot change a replica's copy behind the store's back. Refuses what JSON
 * cannot hold (undefined, a function, a cycle, a bigint) before anything is written.
 */
export interface StoredForm {
  readonly json: string;
  readonly value: StoredValue;
}

export function storedForm(value: StoredValue): StoredForm {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json === undefined)
    throw new TypeError('store: a stored value must be JSON (null, boolean, number, string, array, object)');
  return { json, value: parsedValue(json) };
}

/** A value read from the backend as JSON text, frozen like {@link storedForm}'s. */
export function parsedValue(json: string): StoredValue {
  return deepFreeze(JSON.parse(json) as StoredValue);
}

function deepFreeze(value: StoredValue): StoredValue {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function sameValue(a: StoredValue, b: StoredValue): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** A TTL in whole milliseconds for setIfAbsent, refused when it cannot mean "for a while". */
export function ttlMilliseconds(ttlSeconds: number): number {
  if (
    typeof ttlSeconds !== 'number' ||
    !Number.isFinite(ttlSeconds) ||
    ttlSeconds <= 0 ||
    ttlSeconds > 31_536_000
  )
    throw new RangeError(
      'store: setIfAbsent ttlSeconds must be a number of seconds above 0, at most 31536000',
    );
  return Math.max(1, Math.ceil(ttlSeconds * 1000));
}

/** Refuses a field or key that is not a non-empty string (a programming mistake, said at once). */
export function checkedName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name === '')
    throw new TypeError(`store: ${what} must be a non-empty string`);
  return name;
}
