import { SignJWT } from 'jose';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../src/store/memory.js';
import { replayCache } from '../src/store/replay-cache.js';
import type { Collection, Store, SyncStatus } from '../src/store/store.js';
import { type Echo, frameworks, type TestServer } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';

// The consumers of the store (issue 13): apiKeyAuth's records, jwtAuth's revocations and the
// replay cache. Two middlewares built on one store stand for two replicas: a change made
// through one is seen by the other. The Redis-backed runs are in store-consumers-redis.test.ts.

const all = await frameworks();
const quiet = { warn() {} };
const ALICE = 'ak_alice_0123456789abcdef';
const BOB = 'ak_bob_0123456789abcdef';
const CAROL = 'ak_carol_0123456789abcdef';
let key: TestKey;

beforeAll(async () => {
  key = await makeKey('RS256');
});

/** A token with the claims given, `iat` included (jose's sign() helper always sets it to now). */
function signed(claims: Record<string, unknown>, iat: number): Promise<string> {
  return new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuedAt(iat)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
    .sign(key.privateKey);
}

/** A store whose collections report the status the test sets: a replica cut off from its backend. */
function cutOffStore(status: SyncStatus): Store & { status: SyncStatus } {
  const inner = memoryStore();
  const view = {
    kind: 'cut-off',
    status,
    collection(name: string): Collection {
      const collection = inner.collection(name);
      return {
        get: (field) => collection.get(field),
        entries: () => collection.entries(),
        put: (field, value) => collection.put(field, value),
        delete: (field) => collection.delete(field),
        onChange: (listener) => collection.onChange(listener),
        status: () => view.status,
        ready: () => collection.ready(),
      };
    },
    setIfAbsent: (claimed: string, ttl: number) => inner.setIfAbsent(claimed, ttl),
    close: () => inner.close(),
  };
  return view;
}

describe.each(all)('store consumers on $name (memory store, two middlewares on one store)', (framework) => {
  const { lib } = framework;
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const serve = async (middleware: { close(): Promise<void> }): Promise<TestServer> => {
    const server = await framework.serve([middleware]);
    cleanups.push(
      () => middleware.close(),
      () => server.close(),
    );
    return server;
  };
  const withKey = (server: TestServer, apiKey: string) =>
    request(server.url).get('/').set('Authorization', `Bearer ${apiKey}`);
  const bearer = withKey;
  const shared = () => {
    const store = memoryStore();
    cleanups.push(() => store.close());
    return store;
  };

  describe('apiKeyAuth({ store })', () => {
    it('a key added through one middleware is accepted by another on the same store, and revoked through the other refused by both', async () => {
      const store = shared();
      const a = lib.apiKeyAuth({ keys: [], store });
      const b = lib.apiKeyAuth({ keys: [], store });
      const [serverA, serverB] = [await serve(a), await serve(b)];
      expect((await withKey(serverB, BOB)).status).toBe(401);

      await a.add({ name: 'bob', key: BOB, scopes: ['deploy'], metadata: { team: 'ops' } });
      const seen = await withKey(serverB, BOB);
      expect(seen.status).toBe(200);
      expect((seen.body as Echo).auth).toEqual({
        subject: 'bob',
        scopes: ['deploy'],
        method: 'apiKey',
        apiKey: { name: 'bob', scopes: ['deploy'], metadata: { team: 'ops' } },
      });
      expect(b.list()).toEqual([
        { name: 'bob', scopes: ['deploy'], metadata: { team: 'ops' }, revoked: false },
      ]);

      expect(await b.revoke('bob')).toBe(true);
      expect((await withKey(serverA, BOB)).status).toBe(401);
      expect((await withKey(serverB, BOB)).status).toBe(401);
      expect(a.list()[0]?.revoked).toBe(true);
      expect(await a.revoke('nobody')).toBe(false);
    });

    it('revoking a seeded key through the store refuses it on every middleware seeded with it', async () => {
      const store = shared();
      const seeds = [
        { name: 'alice', key: ALICE },
        { name: 'carol', key: CAROL },
      ];
      const a = lib.apiKeyAuth({ keys: seeds, store });
      const b = lib.apiKeyAuth({ keys: seeds, store });
      const [serverA, serverB] = [await serve(a), await serve(b)];
      expect((await withKey(serverB, ALICE)).status).toBe(200);
      expect(await a.revoke('alice')).toBe(true);
      expect((await withKey(serverA, ALICE)).status).toBe(401);
      expect((await withKey(serverB, ALICE)).status).toBe(401);
      expect((await withKey(serverB, CAROL)).status).toBe(200);
      const states = b.list().map(({ name, revoked }) => ({ name, revoked }));
      expect(states.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
        { name: 'alice', revoked: true },
        { name: 'carol', revoked: false },
      ]);
    });

    it('keeps no plaintext in the store: records are kept by digest, without the key', async () => {
      const store = shared();
      const keys = lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store });
      cleanups.push(() => keys.close());
      await keys.add({ name: 'bob', key: BOB, expiresAt: '2999-01-01T00:00:00Z' });
      await keys.revoke('alice');
      const entries = [...store.collection('apikeys').entries()];
      expect(entries.map(([field]) => field).every((field) => /^[0-9a-f]{64}$/.test(field))).toBe(true);
      expect(entries).toHaveLength(2);
      const text = JSON.stringify(entries);
      for (const secret of [ALICE, BOB]) expect(text).not.toContain(secret);
      const bob = entries.find(([, value]) => (value as { name: string }).name === 'bob')?.[1];
      expect(bob).toEqual({
        name: 'bob',
        scopes: ['*'],
        metadata: {},
        revoked: false,
        expiresAt: '2999-01-01T00:00:00.000Z',
      });
    });

    it('refuses a key added with an expiry that has passed, on both middlewares', async () => {
      const store = shared();
      const a = lib.apiKeyAuth({ keys: [], store });
      const b = lib.apiKeyAuth({ keys: [], store });
      const [serverA, serverB] = [await serve(a), await serve(b)];
      await a.add({ name: 'late', key: CAROL, expiresAt: new Date(Date.now() - 1000) });
      expect((await withKey(serverA, CAROL)).status).toBe(401);
      expect((await withKey(serverB, CAROL)).status).toBe(401);
      expect(b.list()[0]?.name).toBe('late');
    });

    it('add() refuses at once a name or key already in the store (added by another middleware)', async () => {
      const store = shared();
      const a = lib.apiKeyAuth({ keys: [], store });
      const b = lib.apiKeyAuth({ keys: [], store });
      cleanups.push(
        () => a.close(),
        () => b.close(),
      );
      await a.add({ name: 'bob', key: BOB });
      expect(() => b.add({ name: 'bob', key: CAROL })).toThrow(lib.ConfigError);
      expect(() => b.add({ name: 'robert', key: BOB })).toThrow(lib.ConfigError);
      expect(b.list().map((info) => info.name)).toEqual(['bob']);
    });

    it('answers 503 temporarily_unavailable with Retry-After for every key while the store is not fresh', async () => {
      const store = cutOffStore({ fresh: true, syncedAt: Date.now(), retryAfterSeconds: 0 });
      cleanups.push(() => store.close());
      const keys = lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store });
      const server = await serve(keys);
      expect((await withKey(server, ALICE)).status).toBe(200);
      store.status = { fresh: false, syncedAt: Date.now() - 60_000, retryAfterSeconds: 3 };
      for (const presented of [ALICE, BOB]) {
        const refused = await withKey(server, presented);
        expect(refused.status).toBe(503);
        expect(refused.headers['retry-after']).toBe('3');
        expect(refused.body.error).toBe('temporarily_unavailable');
      }
      store.status = { fresh: true, syncedAt: Date.now(), retryAfterSeconds: 0 };
      expect((await withKey(server, ALICE)).status).toBe(200);
    });

    it('before the first sync: 503 by default, the seeds alone with allowUnsyncedStart', async () => {
      const unsynced = { fresh: false, syncedAt: undefined, retryAfterSeconds: 1 };
      const store = cutOffStore(unsynced);
      cleanups.push(() => store.close());
      // A record in the store revoking the seed: not known before the first sync.
      await store.collection('apikeys').put('0'.repeat(64), { name: 'other', revoked: true });
      const closed = await serve(lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store }));
      const open = await serve(
        lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store, allowUnsyncedStart: true }),
      );
      const refused = await withKey(closed, ALICE);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect((await withKey(open, ALICE)).status).toBe(200);
      expect((await withKey(open, BOB)).status).toBe(401);
      // Once synced and then stale, allowUnsyncedStart no longer applies.
      store.status = { fresh: false, syncedAt: Date.now() - 60_000, retryAfterSeconds: 2 };
      expect((await withKey(open, ALICE)).status).toBe(503);
    });

    it('a stored record that does not read as one revokes its key (fail closed), with a warning', async () => {
      const store = shared();
      const { digestOf } = await import('../src/apikey/records.js');
      const warnings: string[] = [];
      const keys = lib.apiKeyAuth({
        keys: [{ name: 'alice', key: ALICE }],
        store,
        logger: { warn: (message) => void warnings.push(message) },
      });
      const server = await serve(keys);
      await store.collection('apikeys').put(digestOf(ALICE), { name: 'alice', scopes: 'not a list' });
      expect((await withKey(server, ALICE)).status).toBe(401);
      expect(warnings.join('\n')).toContain('not valid');
      expect(warnings.join('\n')).not.toContain(ALICE);
    });

    it.each([
      { what: 'a string', store: 'redis://127.0.0.1:6379' },
      { what: 'a node-redis client', store: { get() {}, set() {}, connect() {} } },
      { what: 'null', store: null },
    ])('refuses a store that is $what, naming `store`', ({ store }) => {
      const error = (() => {
        try {
          lib.apiKeyAuth({ keys: [], store: store as never });
        } catch (thrown) {
          return thrown as InstanceType<typeof lib.ConfigError>;
        }
        throw new Error('not refused');
      })();
      expect(error).toBeInstanceOf(lib.ConfigError);
      expect(error.field).toBe('store');
      expect(error.message).toContain('memoryStore() or redisStore()');
    });

    it('needs keys, or a store to hold them', () => {
      expect(() => lib.apiKeyAuth({})).toThrow(/`keys`: is required/);
      const keys = lib.apiKeyAuth({ store: shared() });
      cleanups.push(() => keys.close());
      expect(keys.list()).toEqual([]);
    });
  });

  describe('jwtAuth({ revocations }) and revoke()', () => {
    const jwt = (store: Store) =>
      lib.jwtAuth({
        issuer: ISSUER,
        audiences: [AUDIENCE],
        jwks: { inline: jwks(key) },
        revocations: { store },
        logger: quiet,
      });

    it('a jti revoked through one middleware is refused by both, a cached token included', async () => {
      const store = shared();
      const a = jwt(store);
      const b = jwt(store);
      const [serverA, serverB] = [await serve(a), await serve(b)];
      const token = await sign(key, { jti: 'token-1' });
      const other = await sign(key, { jti: 'token-2' });
      // Verified once on each: the next requests are cache hits.
      expect((await bearer(serverA, token)).status).toBe(200);
      expect((await bearer(serverB, token)).status).toBe(200);

      await a.revoke({ jti: 'token-1' });
      for (const server of [serverA, serverB]) {
        const refused = await bearer(server, token);
        expect(refused.status).toBe(401);
        expect(refused.body.error).toBe('invalid_token');
        expect((await bearer(server, other)).status).toBe(200);
      }
    });

    it("a revoked sub refuses that subject's tokens issued until then, not later ones nor other subjects", async () => {
      const store = shared();
      const a = jwt(store);
      const b = jwt(store);
      const [serverA, serverB] = [await serve(a), await serve(b)];
      const now = Math.floor(Date.now() / 1000);
      const before = await signed({ sub: 'mallory' }, now - 10);
      const cached = await signed({ sub: 'mallory', jti: 'c' }, now - 5);
      const after = await signed({ sub: 'mallory' }, now + 5);
      const bystander = await signed({ sub: 'alice' }, now - 10);
      expect((await bearer(serverB, cached)).status).toBe(200);

      await b.revoke({ sub: 'mallory' });
      for (const server of [serverA, serverB]) {
        expect((await bearer(server, before)).status).toBe(401);
        expect((await bearer(server, cached)).status).toBe(401);
        expect((await bearer(server, after)).status).toBe(200);
        expect((await bearer(server, bystander)).status).toBe(200);
      }
    });

    it('an entry past its `until` no longer refuses; entries are written without the token', async () => {
      const store = shared();
      const a = jwt(store);
      const server = await serve(a);
      const token = await sign(key, { jti: 'short' });
      await a.revoke({ jti: 'short', until: Math.floor(Date.now() / 1000) + 3600 });
      expect((await bearer(server, token)).status).toBe(401);
      const entries = [...store.collection('revocations').entries()];
      expect(entries.map(([field]) => field)).toEqual(['jti:short']);
      expect(JSON.stringify(entries)).not.toContain(token);
      // Written as if long ago: the check ignores it, the next revoke() forgets it.
      await store.collection('revocations').put('jti:short', { until: 1 });
      expect((await bearer(server, token)).status).toBe(200);
      await a.revoke({ sub: 'nobody' });
      expect([...store.collection('revocations').entries()].map(([field]) => field)).toEqual(['sub:nobody']);
    });

    it('answers 503 with Retry-After for every token, cached ones included, while revocations are not fresh', async () => {
      const store = cutOffStore({ fresh: true, syncedAt: Date.now(), retryAfterSeconds: 0 });
      cleanups.push(() => store.close());
      const server = await serve(jwt(store));
      const token = await sign(key);
      expect((await bearer(server, token)).status).toBe(200);
      store.status = { fresh: false, syncedAt: Date.now() - 60_000, retryAfterSeconds: 4 };
      const refused = await bearer(server, token);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('4');
      expect(refused.body.error).toBe('temporarily_unavailable');
      expect((await bearer(server, await sign(key, { jti: 'fresh' }))).status).toBe(503);
      store.status = { fresh: true, syncedAt: Date.now(), retryAfterSeconds: 0 };
      expect((await bearer(server, token)).status).toBe(200);
    });

    it('revoke() refuses a bad argument at once with a ConfigError naming the field; works without the option', async () => {
      const middleware = lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(key) } });
      const server = await serve(middleware);
      const refusal = (argument: unknown) => {
        try {
          void middleware.revoke(argument as never);
        } catch (error) {
          return error as InstanceType<typeof lib.ConfigError>;
        }
        throw new Error('not refused');
      };
      expect(refusal({ jti: 'a', sub: 'b' }).message).toContain('exactly one of `jti` and `sub`');
      expect(refusal({}).message).toContain('exactly one of `jti` and `sub`');
      expect(refusal({ jti: '' }).field).toBe('revocation.jti');
      expect(refusal({ jti: 'a', until: Math.floor(Date.now() / 1000) - 10 }).field).toBe('revocation.until');
      expect(refusal({ jti: 'a', until: Date.now() + 60_000 }).field).toBe('revocation.until');
      expect(refusal({ jwtId: 'a' }).message).toContain('did you mean `jti`?');
      // The default store is the middleware's own memory store.
      const token = await sign(key, { jti: 'mine' });
      await middleware.revoke({ jti: 'mine', until: new Date(Date.now() + 60_000) });
      expect((await bearer(server, token)).status).toBe(401);
    });

    it.each([
      { given: { store: 'redis://x' }, field: 'revocations.store' },
      { given: { maxTokenLifetimeSeconds: 0 }, field: 'revocations.maxTokenLifetimeSeconds' },
      { given: { ttl: 60 }, field: 'revocations.ttl' },
    ])('refuses revocations $given, naming $field', ({ given, field }) => {
      try {
        lib.jwtAuth({ issuer: ISSUER, jwks: { inline: jwks(key) }, revocations: given as never });
      } catch (error) {
        expect(error).toBeInstanceOf(lib.ConfigError);
        expect((error as InstanceType<typeof lib.ConfigError>).field).toBe(field);
        return;
      }
      throw new Error('not refused');
    });
  });
});

describe('replayCache({ store })', () => {
  it('claims a key once within its TTL, across caches on one store', async () => {
    const store = memoryStore();
    const a = replayCache({ store });
    const b = replayCache({ store });
    expect(await a.claim('proof-1', 60)).toBe(true);
    expect(await b.claim('proof-1', 60)).toBe(false);
    expect(await a.claim('proof-1', 60)).toBe(false);
    expect(await b.claim('proof-2', 60)).toBe(true);
    // The store holds a digest, not the client's value.
    expect(await store.setIfAbsent('proof-3', 60)).toBe(true);
    expect(await a.claim('proof-3', 60)).toBe(true);
    await store.close();
  });

  it('has a memory store of its own by default, and refuses a bad key or TTL', async () => {
    const cache = replayCache();
    expect(await cache.claim('x', 1)).toBe(true);
    expect(await cache.claim('x', 1)).toBe(false);
    await expect(cache.claim('', 1)).rejects.toThrow(/`key`/);
    await expect(cache.claim('y', 0)).rejects.toThrow(/`ttlSeconds`/);
    await expect(cache.claim('y', Number.NaN)).rejects.toThrow(/`ttlSeconds`/);
    expect(() => replayCache({ store: {} as never })).toThrow(/`store`/);
    await cache.close();
  });

  it('rejects when the store cannot answer, so callers fail closed', async () => {
    const store = memoryStore();
    const cache = replayCache({ store });
    await store.close();
    await expect(cache.claim('after-close', 60)).rejects.toThrow();
  });
});
