import { logText } from '../logging/log-text.js';
import { type ApiKeyRecord, type StoredApiKey, storeRecord } from './records.js';

/**
 * The keys by digest (O(1) lookup of a presented key's SHA-256) and by name. Built whole from
 * a list of records; duplicate names or keys are refused so one key never means two clients.
 */
export class KeyIndex {
  readonly byDigest: ReadonlyMap<string, StoredApiKey>;
  readonly byName: ReadonlyMap<string, StoredApiKey>;

  constructor(stored: readonly StoredApiKey[]) {
    const byDigest = new Map<string, StoredApiKey>();
    const byName = new Map<string, StoredApiKey>();
    for (const key of stored) {
      // Names are escaped: the message is logged when a keys file reload is refused.
      if (byName.has(key.name)) throw new Error(`the name "${logText(key.name, 64)}" is used twice`);
      if (byDigest.has(key.digest)) {
        const first = byDigest.get(key.digest)!.name;
        throw new Error(`"${logText(key.name, 64)}" has the same key as "${logText(first, 64)}"`);
      }
      byDigest.set(key.digest, key);
      byName.set(key.name, key);
    }
    this.byDigest = byDigest;
    this.byName = byName;
  }

  /** Parses a JSON array of records (a keys file). */
  static fromJson(text: string): StoredApiKey[] {
    let records: unknown;
    try {
      records = JSON.parse(text);
    } catch {
      throw new Error('is not valid JSON');
    }
    if (!Array.isArray(records)) throw new Error('must be a JSON array of key records');
    return records.map((record, index) => storeRecord(record as ApiKeyRecord, `[${index}]`));
  }
}
