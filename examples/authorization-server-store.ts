import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

/**
 * The storage of the embedded authorization server (examples/authorization-server.ts): a small
 * in-memory oidc-provider adapter of our own. oidc-provider's built-in one is a process-wide store
 * it warns about at every start; this one belongs to one provider (several servers in one process,
 * as in the tests, share nothing), forgets records when they expire, and holds at most
 * MAX_RECORDS per table, dropping the oldest first, so that a client registering in a loop cannot
 * grow it without bound. Everything is lost on restart: it is a demo and test server.
 */
const MAX_RECORDS = 10_000;

/** The models whose records a grant owns: revoking the grant removes them (oidc-provider's list). */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

class ExpiringTable<T> {
  readonly #records = new Map<string, { value: T; expiresAt: number | undefined }>();

  get(key: string): T | undefined {
    const record = this.#records.get(key);
    if (record?.expiresAt !== undefined && record.expiresAt <= Date.now()) {
      this.#records.delete(key);
      return undefined;
    }
    return record?.value;
  }

  /** `expiresInSeconds` undefined: kept until deleted or pushed out (clients, for instance). */
  set(key: string, value: T, expiresInSeconds: number | undefined): void {
    // Deleted first so that the key moves to the newest end of the Map's insertion order.
    this.#records.delete(key);
    const expiresAt = expiresInSeconds === undefined ? undefined : Date.now() + expiresInSeconds * 1000;
    this.#records.set(key, { value, expiresAt });
    if (this.#records.size > MAX_RECORDS) {
      const oldest = this.#records.keys().next().value;
      if (oldest !== undefined) this.#records.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#records.delete(key);
  }
}

/** A fresh store for one provider: pass the result as its `adapter`. */
export function inMemoryStore(): AdapterFactory {
  const tables = new Map<string, ExpiringTable<AdapterPayload>>();
  const table = (model: string): ExpiringTable<AdapterPayload> => {
    const found = tables.get(model) ?? new ExpiringTable<AdapterPayload>();
    tables.set(model, found);
    return found;
  };
  const sessionIdByUid = new ExpiringTable<string>();
  const idByUserCode = new ExpiringTable<string>();
  const recordsByGrant = new ExpiringTable<Array<{ model: string; id: string }>>();

  return (model: string): Adapter => ({
    async upsert(id, payload, expiresIn) {
      table(model).set(id, payload, expiresIn);
      if (model === 'Session' && payload.uid) sessionIdByUid.set(payload.uid, id, expiresIn);
      if (payload.userCode) idByUserCode.set(payload.userCode, id, expiresIn);
      if (GRANTABLE.has(model) && payload.grantId) {
        const records = recordsByGrant.get(payload.grantId) ?? [];
        records.push({ model, id });
        recordsByGrant.set(payload.grantId, records, undefined);
      }
    },
    async find(id) {
      return table(model).get(id);
    },
    async findByUid(uid) {
      const id = sessionIdByUid.get(uid);
      return id === undefined ? undefined : table(model).get(id);
    },
    async findByUserCode(userCode) {
      const id = idByUserCode.get(userCode);
      return id === undefined ? undefined : table(model).get(id);
    },
    async consume(id) {
      const payload = table(model).get(id);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id) {
      table(model).delete(id);
    },
    async revokeByGrantId(grantId) {
      for (const record of recordsByGrant.get(grantId) ?? []) table(record.model).delete(record.id);
      recordsByGrant.delete(grantId);
    },
  });
}
