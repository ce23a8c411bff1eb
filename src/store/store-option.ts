import { z } from '../config/schema.js';
import type { Store } from './store.js';

const STORE_PROBLEM =
  'must be a store (memoryStore() or redisStore()): an object with collection(), setIfAbsent() and close() methods';

/**
 * The schema of a `store` option: any object implementing {@link Store}. Checked by its methods
 * (not by class), so another backend written against the interface is taken as it is; the
 * store itself is never copied, wrapped or read beyond that check.
 */
export const STORE = z.custom<Store>(
  (value) => {
    if (typeof value !== 'object' || value === null) return false;
    const store = value as Partial<Record<keyof Store, unknown>>;
    return (
      typeof store.collection === 'function' &&
      typeof store.setIfAbsent === 'function' &&
      typeof store.close === 'function'
    );
  },
  { error: STORE_PROBLEM },
);
