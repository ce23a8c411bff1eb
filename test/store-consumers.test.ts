import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { createClient } from 'redis';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../src/store/memory.js';
import { redisStore } from '../src/store/redis.js';
import { replayCache } from '../src/store/replay-cache.js';
import type { Collection, Store, SyncStatus } from '../src/store/store.js';
import { type Echo, frameworks, type TestServer } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { startProxy } from './support/tcp-proxy.js';
import { eventually, sleep } from './support/wait.js';

// The consumers of the store (issue 13): apiKeyAuth's records, jwtAuth's revocations and the
// replay cache. Two middlewares built on one store stand for two replicas: a change made
// through one is seen by the other: on a memory store within one process, and on a real
// redis-server (one per test) through two redisStore()s, each with its own connections.

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
        deleteIf: (field, expected) => collection.deleteIf(field, expected),
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
    const jwt = (store: Store, clockSkewSeconds?: number) =>
      lib.jwtAuth({
        issuer: ISSUER,
        audiences: [AUDIENCE],
        jwks: { inline: jwks(key) },
        revocations: { store },
        logger: quiet,
        ...(clockSkewSeconds === undefined ? {} : { clockSkewSeconds }),
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
      // No clock skew accepted: an iat within the skew after the revocation may be a token
      // issued before it by an issuer whose clock is ahead, and is refused (test/store-review).
      const a = jwt(store, 0);
      const b = jwt(store, 0);
      const [serverA, serverB] = [await serve(a), await serve(b)];
      const now = Math.floor(Date.now() / 1000);
      const before = await signed({ sub: 'mallory' }, now - 10);
      const cached = await signed({ sub: 'mallory', jti: 'c' }, now - 5);
      const bystander = await signed({ sub: 'alice' }, now - 10);
      expect((await bearer(serverB, cached)).status).toBe(200);

      await b.revoke({ sub: 'mallory' });
      // Issued in the second after the revocation's, once that second has come.
      const revokedAt = Math.floor(Date.now() / 1000);
      const after = await signed({ sub: 'mallory' }, revokedAt + 1);
      await sleep(Math.max(0, (revokedAt + 1) * 1000 - Date.now()));
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

describe.each(all)(
  'store consumers on $name (redisStore on a real redis-server, two replicas)',
  (framework) => {
    const { lib } = framework;
    const cleanups: (() => unknown)[] = [];
    /** Every status seen, to show no request ever got a 500. */
    const seen: number[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      expect(seen.splice(0).filter((code) => code >= 500 && code !== 503)).toEqual([]);
    });
    const serve = async (middleware: { close(): Promise<void> }): Promise<TestServer> => {
      const server = await framework.serve([middleware]);
      cleanups.push(
        () => middleware.close(),
        () => server.close(),
      );
      return server;
    };
    const redis = async (options: { persistent?: boolean } = {}): Promise<RedisServer> => {
      const server = await startRedis(options);
      cleanups.push(() => server.stop());
      return server;
    };
    /** One replica's store: its own connections to `url`, fast polls and a short staleness bound. */
    const replica = (url: string, maxStaleSeconds = 10): Store => {
      const store = redisStore({
        url,
        pollIntervalMs: 50,
        maxStaleSeconds,
        commandTimeoutMs: 300,
        logger: quiet,
      });
      cleanups.push(() => store.close());
      return store;
    };
    const bearer = (server: TestServer, credential: string) =>
      request(server.url).get('/').set('Authorization', `Bearer ${credential}`);
    const status = async (server: TestServer, credential: string) => {
      const res = await bearer(server, credential);
      seen.push(res.status);
      return res;
    };
    const becomes = (server: TestServer, credential: string, expected: number) =>
      eventually(async () => (await status(server, credential)).status === expected, { timeoutMs: 10_000 });

    it('a key added on replica A is accepted on B, and revoked on A refused on B', async () => {
      const server = await redis();
      const a = lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store: replica(server.url) });
      const b = lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store: replica(server.url) });
      const [serverA, serverB] = [await serve(a), await serve(b)];
      expect(await becomes(serverA, ALICE, 200)).toBe(true);
      expect(await becomes(serverB, ALICE, 200)).toBe(true);

      await a.add({ name: 'bob', key: BOB, scopes: ['deploy'] });
      expect(await becomes(serverB, BOB, 200)).toBe(true);
      expect(
        b
          .list()
          .map((info) => info.name)
          .sort(),
      ).toEqual(['alice', 'bob']);

      expect(await a.revoke('bob')).toBe(true);
      expect(await a.revoke('alice')).toBe(true);
      expect((await status(serverA, BOB)).status).toBe(401);
      expect(await becomes(serverB, BOB, 401)).toBe(true);
      expect(await becomes(serverB, ALICE, 401)).toBe(true);
      expect(b.list().every((info) => info.revoked)).toBe(true);
    });

    it('a revoked jti and a revoked sub are refused on both replicas, cached tokens included', async () => {
      const server = await redis();
      const jwt = () =>
        lib.jwtAuth({
          issuer: ISSUER,
          audiences: [AUDIENCE],
          jwks: { inline: jwks(key) },
          revocations: { store: replica(server.url) },
          logger: quiet,
        });
      const a = jwt();
      const b = jwt();
      const [serverA, serverB] = [await serve(a), await serve(b)];
      const byJti = await sign(key, { sub: 'carol', jti: 'jti-1' });
      const bySub = await signed({ sub: 'mallory' }, Math.floor(Date.now() / 1000) - 5);
      const other = await sign(key, { sub: 'carol', jti: 'jti-2' });
      for (const server of [serverA, serverB])
        for (const token of [byJti, bySub]) expect(await becomes(server, token, 200)).toBe(true);

      await a.revoke({ jti: 'jti-1' });
      await b.revoke({ sub: 'mallory' });
      for (const server of [serverA, serverB]) {
        expect(await becomes(server, byJti, 401)).toBe(true);
        expect(await becomes(server, bySub, 401)).toBe(true);
        expect((await status(server, other)).status).toBe(200);
      }
    });

    it('never puts a plaintext key or a token in Redis', async () => {
      const server = await redis();
      const store = replica(server.url);
      const keys = lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store });
      const jwt = lib.jwtAuth({
        issuer: ISSUER,
        jwks: { inline: jwks(key) },
        revocations: { store },
        logger: quiet,
      });
      const [keyServer, jwtServer] = [await serve(keys), await serve(jwt)];
      const token = await sign(key, { jti: 'jti-secret-check' });
      expect(await becomes(keyServer, ALICE, 200)).toBe(true);
      expect(await becomes(jwtServer, token, 200)).toBe(true);
      await keys.add({ name: 'bob', key: BOB, metadata: { owner: 'ops' } });
      await keys.add({ name: 'carol', keyHash: `sha256:${createHashHex(CAROL)}` });
      await keys.revoke('alice');
      await jwt.revoke({ jti: 'jti-secret-check' });

      const raw = createClient({ url: server.url });
      await raw.connect();
      cleanups.push(() => raw.destroy());
      const dump: string[] = [];
      for await (const batch of raw.scanIterator({ COUNT: 100 })) {
        for (const name of batch) {
          dump.push(name);
          const type = await raw.type(name);
          if (type === 'hash') dump.push(JSON.stringify(await raw.hGetAll(name)));
          else if (type === 'stream') dump.push(JSON.stringify(await raw.xRange(name, '-', '+')));
          else if (type === 'string') dump.push(String(await raw.get(name)));
          else dump.push(`(${type})`);
        }
      }
      const text = dump.join('\n');
      // The records are there (by digest), the keys and the token are not.
      expect(text).toContain(createHashHex(BOB));
      expect(text).toContain('jti-secret-check');
      for (const secret of [ALICE, BOB, CAROL, token, token.split('.')[2]!])
        expect(text).not.toContain(secret);
    });

    it('Redis killed: known keys are served until the staleness bound, then 503 with Retry-After; back after a restart', async () => {
      const server = await redis({ persistent: true });
      const seeds = [{ name: 'alice', key: ALICE }];
      const a = lib.apiKeyAuth({ keys: seeds, store: replica(server.url, 3) });
      const b = lib.apiKeyAuth({ keys: seeds, store: replica(server.url, 3) });
      const [serverA, serverB] = [await serve(a), await serve(b)];
      expect(await becomes(serverA, ALICE, 200)).toBe(true);
      await a.add({ name: 'bob', key: BOB });
      for (const served of [serverA, serverB]) expect(await becomes(served, BOB, 200)).toBe(true);

      await server.kill();
      const afterKill = seen.length;
      // Within the bound (3 s here) the local copy still answers; past it every key check fails closed.
      for (const served of [serverA, serverB]) expect((await status(served, BOB)).status).toBe(200);
      for (const served of [serverA, serverB]) {
        expect(await becomes(served, BOB, 503)).toBe(true);
        const refused = await status(served, ALICE);
        expect(refused.status).toBe(503);
        expect(refused.body.error).toBe('temporarily_unavailable');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        // A known key is served (200) or the check fails closed (503): never refused as unknown.
        expect(seen.slice(afterKill).filter((code) => code !== 200 && code !== 503)).toEqual([]);
      }

      await server.restart();
      for (const served of [serverA, serverB]) {
        expect(await becomes(served, BOB, 200)).toBe(true);
        expect((await status(served, ALICE)).status).toBe(200);
      }
    });

    it('a revocation made while a replica was cut off from Redis applies there on reconnect', async () => {
      const server = await redis();
      const relay = await startProxy(server.port);
      cleanups.push(() => relay.close());
      const jwtOn = (store: Store) =>
        lib.jwtAuth({ issuer: ISSUER, jwks: { inline: jwks(key) }, revocations: { store }, logger: quiet });
      const seeds = [{ name: 'alice', key: ALICE }];
      const storeA = replica(server.url, 2);
      const storeB = replica(relay.url, 2);
      const keysA = lib.apiKeyAuth({ keys: seeds, store: storeA });
      const keysB = lib.apiKeyAuth({ keys: seeds, store: storeB });
      const jwtA = jwtOn(storeA);
      const jwtB = jwtOn(storeB);
      const [serverA, serverB, tokensA, tokensB] = [
        await serve(keysA),
        await serve(keysB),
        await serve(jwtA),
        await serve(jwtB),
      ];
      const token = await sign(key, { jti: 'cut-off' });
      expect(await becomes(serverA, ALICE, 200)).toBe(true);
      expect(await becomes(tokensA, token, 200)).toBe(true);
      expect(await becomes(serverB, ALICE, 200)).toBe(true);
      expect(await becomes(tokensB, token, 200)).toBe(true);

      relay.cut();
      expect(await keysA.revoke('alice')).toBe(true);
      await jwtA.revoke({ jti: 'cut-off' });
      expect((await status(serverA, ALICE)).status).toBe(401);
      expect((await status(tokensA, token)).status).toBe(401);
      // B cannot learn of it: it fails closed once its copy is older than the bound.
      expect(await becomes(serverB, ALICE, 503)).toBe(true);
      expect(await becomes(tokensB, token, 503)).toBe(true);

      relay.restore();
      expect(await becomes(serverB, ALICE, 401)).toBe(true);
      expect(await becomes(tokensB, token, 401)).toBe(true);
    });
  },
);

function createHashHex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
