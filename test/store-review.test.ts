import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryStore } from '../src/store/memory.js';
import { redisStore } from '../src/store/redis.js';
import { replayCache } from '../src/store/replay-cache.js';
import type { Store } from '../src/store/store.js';
import { frameworks, type TestServer } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, type TestKey } from './support/keys.js';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { eventually } from './support/wait.js';

// Review of issue 13 (shared state through Redis): each test here failed on the code as
// merged, and names the defect it proves.

const all = await frameworks();
const quiet = { warn() {} };
const ALICE = 'ak_alice_0123456789abcdef';
let key: TestKey;

beforeAll(async () => {
  key = await makeKey('RS256');
});

/** A token of `sub` issued (iat) at `iat`, valid for five more minutes. */
function issuedAt(sub: string, iat: number): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuedAt(iat)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
    .sign(key.privateKey);
}

describe.each(all)('store review on $name', (framework) => {
  const { lib } = framework;
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
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
  const redis = async (): Promise<RedisServer> => {
    const server = await startRedis();
    cleanups.push(() => server.stop());
    return server;
  };
  const replica = (url: string, maxStaleSeconds: number): Store => {
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
  const becomes = (server: TestServer, credential: string, expected: number) =>
    eventually(async () => (await bearer(server, credential)).status === expected, { timeoutMs: 10_000 });

  it('a replica cut off from Redis refuses after maxStaleSeconds even when the wall clock is set back', async () => {
    // Staleness was Date.now() - syncedAt: a clock stepped back (NTP, a VM resumed) kept a cut-off
    // replica "fresh" for as long as the step, serving revoked keys far past maxStaleSeconds.
    const server = await redis();
    const store = replica(server.url, 1);
    const keys = lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE }], store, logger: quiet });
    const gateway = await serve(keys);
    expect(await becomes(gateway, ALICE, 200)).toBe(true);

    await server.kill();
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000);
    expect(await becomes(gateway, ALICE, 503)).toBe(true);
    expect(store.collection('apikeys').status().fresh).toBe(false);
  });

  it('an add() that rejected on a timeout still lands once Redis answers (the docs said nothing changed)', async () => {
    // A MULTI sent and not answered within commandTimeoutMs is still carried out by Redis: the
    // rejection means "unknown", not "nothing changed anywhere" as store.ts and add() said.
    const server = await redis();
    const a = lib.apiKeyAuth({ store: replica(server.url, 10), logger: quiet });
    const b = lib.apiKeyAuth({ store: replica(server.url, 10), logger: quiet });
    const gatewayB = await serve(b);
    cleanups.push(() => a.close());
    expect(await becomes(gatewayB, ALICE, 401)).toBe(true);
    await server.slow(1500);
    await expect(a.add({ name: 'alice', key: ALICE })).rejects.toThrow();
    expect(await becomes(gatewayB, ALICE, 200)).toBe(true);
  });

  it('a stored record that is not JSON fails closed: a seed whose digest holds it is refused', async () => {
    // A value that did not parse was left out of the copy, so a seed's revocation record that
    // reads as nothing let the seed back in, while a JSON record that did not pass was refused.
    const server = await redis();
    const digest = createHash('sha256').update(ALICE).digest('hex');
    expect(
      await server.command('HSET', 'portcullis:apikeys:data', digest, '{"name":"alice","revoked":tr'),
    ).toBe('1');
    const keys = lib.apiKeyAuth({
      keys: [{ name: 'alice', key: ALICE }],
      store: replica(server.url, 10),
      logger: quiet,
    });
    const gateway = await serve(keys);
    expect(await becomes(gateway, ALICE, 401)).toBe(true);
  });

  it('a closed apiKeyAuth on a store that lives on refuses, rather than serving keys revoked after its close()', async () => {
    // close() stops following the store (detach) but a server draining its keep-alive
    // connections still calls the middleware: it served from a copy frozen at close(), as fresh
    // as the store it no longer followed, so a key revoked afterwards stayed accepted there.
    const store = memoryStore();
    cleanups.push(() => store.close());
    const closing = lib.apiKeyAuth({ store, logger: quiet });
    const admin = lib.apiKeyAuth({ store, logger: quiet });
    const gateway = await serve(closing);
    cleanups.push(() => admin.close());
    await admin.add({ name: 'alice', key: ALICE });
    expect((await bearer(gateway, ALICE)).status).toBe(200);
    await closing.close();
    expect(await admin.revoke('alice')).toBe(true);
    expect((await bearer(gateway, ALICE)).status).not.toBe(200);
  });

  it('revoke({ sub }) covers a token issued just before it by an issuer whose clock is ahead (within clockSkewSeconds)', async () => {
    // The verifier accepts an issuer clock up to clockSkewSeconds (default 30) ahead; the subject
    // check took any iat after the revocation second as "issued after", so a token issued a
    // moment before revoke() by such an issuer survived it.
    const jwt = lib.jwtAuth({
      issuer: ISSUER,
      audiences: [AUDIENCE],
      jwks: { inline: jwks(key) },
      revocations: { store: memoryStore() },
      logger: quiet,
    });
    const gateway = await serve(jwt);
    const now = Math.floor(Date.now() / 1000);
    const aheadBy20 = await issuedAt('mallory', now + 20);
    expect((await bearer(gateway, aheadBy20)).status).toBe(200);
    await jwt.revoke({ sub: 'mallory' });
    expect((await bearer(gateway, aheadBy20)).status).toBe(401);
  });

  it('revoke({ sub }) covers a token whose iat lies beyond the clock skew (it cannot prove it was issued after)', async () => {
    const jwt = lib.jwtAuth({
      issuer: ISSUER,
      audiences: [AUDIENCE],
      jwks: { inline: jwks(key) },
      logger: quiet,
    });
    const gateway = await serve(jwt);
    const farAhead = await issuedAt('mallory', Math.floor(Date.now() / 1000) + 86_400);
    expect((await bearer(gateway, farAhead)).status).toBe(200);
    await jwt.revoke({ sub: 'mallory' });
    expect((await bearer(gateway, farAhead)).status).toBe(401);
  });
});

describe('replayCache on the memory store', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a claim is still a replay within its TTL when the wall clock steps forward', async () => {
    // Claims expired by Date.now(): a clock stepped forward (NTP) forgot them at once, and the
    // same DPoP proof jti was accepted twice.
    const cache = replayCache();
    expect(await cache.claim('proof-1', 60)).toBe(true);
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3_600_000);
    expect(await cache.claim('proof-1', 60)).toBe(false);
    await cache.close();
  });
});
