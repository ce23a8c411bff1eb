import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { memoryStore } from '../src/store/memory.js';
import { type RedisStoreOptions, redisStore } from '../src/store/redis.js';
import type { Change, Store } from '../src/store/store.js';
import { type RedisServer, type RedisServerOptions, startRedis } from './support/redis-server.js';
import { startProxy, type TcpProxy } from './support/tcp-proxy.js';
import { eventually, recorder } from './support/wait.js';

// Store level: no framework involved. Short intervals so that every bound is reached quickly;
// every wait is an eventually() on a state, never a fixed sleep.
const FAST = { pollIntervalMs: 50, maxStaleSeconds: 1, commandTimeoutMs: 300 } as const;

type Client = ReturnType<typeof createClient>;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const server = await startRedis(options);
  cleanups.push(() => server.stop());
  return server;
}

async function proxyTo(server: RedisServer): Promise<TcpProxy> {
  const proxy = await startProxy(server.port);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A node-redis client as an app makes one, reconnecting quickly (tests restart servers). */
async function client(url: string, { wait = true } = {}): Promise<Client> {
  const made = createClient({ url, socket: { reconnectStrategy: () => 50, connectTimeout: 500 } });
  made.on('error', () => undefined);
  const connecting = made.connect();
  cleanups.push(() => (made.isOpen ? made.destroy() : undefined));
  if (wait) await connecting;
  else connecting.catch(() => undefined);
  return made;
}

function store(options: RedisStoreOptions): Store {
  const made = redisStore({ ...FAST, logger: recorder(), ...options });
  cleanups.push(() => made.close());
  return made;
}

const holds = async (check: () => boolean, timeoutMs = 5000) =>
  expect(await eventually(check, { timeoutMs })).toBe(true);

describe('the Store contract, on memoryStore and redisStore', () => {
  const kinds: Array<[string, () => Promise<Store>]> = [
    ['memory', async () => memoryStore()],
    ['redis', async () => store({ client: await client((await redis()).url) })],
  ];
  for (const [kind, make] of kinds) {
    it(`${kind}: put, get, entries, delete and onChange, local writes applied before the promise settles`, async () => {
      const made = await make();
      const collection = made.collection('apikeys');
      expect(made.collection('apikeys')).toBe(collection);
      await collection.ready();
      const changes: Change[] = [];
      collection.onChange((change) => changes.push(change));
      await collection.put('a', { name: 'one', scopes: ['read'] });
      expect(collection.get('a')).toEqual({ name: 'one', scopes: ['read'] });
      await collection.put('b', 2);
      expect([...collection.entries()]).toEqual([
        ['a', { name: 'one', scopes: ['read'] }],
        ['b', 2],
      ]);
      await collection.delete('a');
      expect(collection.get('a')).toBeUndefined();
      expect(changes).toEqual([
        { field: 'a', value: { name: 'one', scopes: ['read'] } },
        { field: 'b', value: 2 },
        { field: 'a', value: undefined },
      ]);
      expect(collection.status().fresh).toBe(true);
    });

    it(`${kind}: deleteIf deletes only the value it was given, never one written since`, async () => {
      const made = await make();
      const collection = made.collection('conditional');
      await collection.ready();
      const changes: Change[] = [];
      collection.onChange((change) => changes.push(change));
      await collection.put('sub:alice', { before: 1, until: 10 });
      const seen = collection.get('sub:alice')!;
      // Renewed (another replica's new revocation) after this one saw the old entry.
      await collection.put('sub:alice', { before: 5, until: 20 });
      expect(await collection.deleteIf('sub:alice', seen)).toBe(false);
      expect(collection.get('sub:alice')).toEqual({ before: 5, until: 20 });
      expect(await collection.deleteIf('sub:alice', { before: 5, until: 20 })).toBe(true);
      expect(collection.get('sub:alice')).toBeUndefined();
      expect(await collection.deleteIf('sub:alice', { before: 5, until: 20 })).toBe(false);
      expect(changes.at(-1)).toEqual({ field: 'sub:alice', value: undefined });
    });

    it(`${kind}: onChange returns the function that stops that listener, and only that one`, async () => {
      const made = await make();
      const collection = made.collection('listeners');
      await collection.ready();
      const kept: string[] = [];
      const dropped: string[] = [];
      const record = (into: string[]) => (change: Change) => into.push(change.field);
      collection.onChange(record(kept));
      const stop = collection.onChange(record(dropped));
      await collection.put('before', 1);
      stop();
      stop(); // a second call changes nothing
      await collection.put('after', 2);
      expect(kept).toEqual(['before', 'after']);
      expect(dropped).toEqual(['before']);
    });

    it(`${kind}: a stored value is a frozen copy, and what JSON cannot hold is refused before anything is written`, async () => {
      const made = await make();
      const collection = made.collection('values');
      await collection.ready();
      const given = { scopes: ['read'] };
      await collection.put('k', given);
      given.scopes.push('admin');
      expect(collection.get('k')).toEqual({ scopes: ['read'] });
      expect(Object.isFrozen(collection.get('k'))).toBe(true);
      await expect(collection.put('u', undefined as never)).rejects.toThrow(TypeError);
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      await expect(collection.put('c', cycle as never)).rejects.toThrow(TypeError);
      expect(collection.get('u')).toBeUndefined();
      expect(collection.get('c')).toBeUndefined();
    });

    it(`${kind}: setIfAbsent is true once, then false, then true again after its TTL`, async () => {
      const made = await make();
      expect(await made.setIfAbsent('jti-1', 0.3)).toBe(true);
      expect(await made.setIfAbsent('jti-1', 0.3)).toBe(false);
      expect(await made.setIfAbsent('jti-2', 0.3)).toBe(true);
      expect(await eventually(async () => made.setIfAbsent('jti-1', 60), { timeoutMs: 3000 })).toBe(true);
      await expect(made.setIfAbsent('x', 0)).rejects.toThrow(RangeError);
    });
  }
});

describe('redisStore across replicas', () => {
  it('two stores on one Redis see each other’s put and delete within a poll', async () => {
    const server = await redis();
    const a = store({ client: await client(server.url) }).collection('apikeys');
    const b = store({ client: await client(server.url) }).collection('apikeys');
    await Promise.all([a.ready(), b.ready()]);
    const seenByB: Change[] = [];
    b.onChange((change) => seenByB.push(change));

    await a.put('digest-1', { name: 'ci', revoked: false });
    await holds(() => JSON.stringify(b.get('digest-1')) === '{"name":"ci","revoked":false}');
    await b.put('digest-1', { name: 'ci', revoked: true });
    await holds(() => JSON.stringify(a.get('digest-1')) === '{"name":"ci","revoked":true}');
    await a.delete('digest-1');
    await holds(() => b.get('digest-1') === undefined);
    expect(seenByB.map((change) => change.value)).toEqual([
      { name: 'ci', revoked: false },
      { name: 'ci', revoked: true },
      undefined,
    ]);
  });

  it('a change whose pub/sub hint was lost is caught by the poll', async () => {
    const server = await redis();
    const raw = await client(server.url);
    const b = store({ client: await client(server.url) }).collection('revocations');
    await b.ready();
    // Written as redisStore writes, but with no PUBLISH: the hint is lost.
    await raw
      .multi()
      .hSet('portcullis:revocations:data', 'jti:1', '{"until":1}')
      .xAdd('portcullis:revocations:log', '*', { op: 'put', field: 'jti:1', value: '{"until":1}' })
      .exec();
    await holds(() => JSON.stringify(b.get('jti:1')) === '{"until":1}');
  });

  it('a replica whose last entry was trimmed from the log resyncs the whole hash', async () => {
    const server = await redis();
    const raw = await client(server.url);
    const b = store({ client: await client(server.url) }).collection('apikeys');
    await b.ready();
    await store({ client: raw }).collection('apikeys').put('old', 1);
    await holds(() => b.get('old') === 1);
    // The log is trimmed past b's last entry, and a value now exists only in the hash (its log
    // entry is gone too): replaying the log could never find it, a resync does.
    await raw
      .multi()
      .hSet('portcullis:apikeys:data', 'only-in-hash', '"yes"')
      .hDel('portcullis:apikeys:data', 'old')
      .xAdd('portcullis:apikeys:log', '*', { op: 'put', field: 'unrelated', value: '0' })
      .xTrim('portcullis:apikeys:log', 'MAXLEN', 0)
      .exec();
    await holds(() => b.get('only-in-hash') === 'yes' && b.get('old') === undefined);
    expect(b.get('unrelated')).toBeUndefined();
  });

  it('Redis killed: the copy is served until maxStaleSeconds, then stale; fresh again after a restart', async () => {
    const server = await redis({ persistent: true });
    const logger = recorder();
    const s = store({ client: await client(server.url), logger });
    const keys = s.collection('apikeys');
    await keys.ready();
    await keys.put('k', 'v');
    await server.kill();
    // Still served from the local copy meanwhile (the request path never waits on Redis).
    expect(keys.get('k')).toBe('v');
    await holds(() => !keys.status().fresh);
    expect(keys.status().retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(keys.get('k')).toBe('v');
    await expect(keys.put('k', 'w')).rejects.toThrow(/put in apikeys/);
    await server.restart();
    await holds(() => keys.status().fresh);
    expect(keys.get('k')).toBe('v');
    expect(
      logger.messages.some((message) =>
        /lost sync with Redis \(.*\); serving the local copy for at most 1 s/.test(message),
      ),
    ).toBe(true);
    expect(logger.messages.some((message) => /in sync with Redis again/.test(message))).toBe(true);
  });

  it('a change made by another replica while this one was cut off is applied on reconnect', async () => {
    const server = await redis();
    const proxy = await proxyTo(server);
    const cutOff = store({ client: await client(proxy.url) }).collection('revocations');
    const other = store({ client: await client(server.url) }).collection('revocations');
    await Promise.all([cutOff.ready(), other.ready()]);
    await other.put('sub:alice', { before: 1 });
    await holds(() => cutOff.get('sub:alice') !== undefined);

    proxy.cut();
    await holds(() => !cutOff.status().fresh);
    await other.put('jti:revoked-while-away', { until: 2 });
    await other.delete('sub:alice');
    expect(cutOff.get('jti:revoked-while-away')).toBeUndefined();
    proxy.restore();
    await holds(() => cutOff.status().fresh);
    expect(cutOff.get('jti:revoked-while-away')).toEqual({ until: 2 });
    expect(cutOff.get('sub:alice')).toBeUndefined();
  });

  it('Redis down at start-up: not fresh and not ready until it answers', async () => {
    const server = await redis();
    await server.kill();
    const s = store({ client: await client(server.url, { wait: false }) });
    const keys = s.collection('apikeys');
    let ready = false;
    void keys.ready().then(() => {
      ready = true;
    });
    expect(keys.status()).toEqual({ fresh: false, syncedAt: undefined, retryAfterSeconds: 1 });
    await expect(s.setIfAbsent('early', 10)).rejects.toThrow(/setIfAbsent/);
    expect(ready).toBe(false);
    await server.restart();
    await holds(() => ready && keys.status().fresh);
  });

  it('Redis slow: put, delete and setIfAbsent reject after commandTimeoutMs instead of hanging; the copy goes stale', async () => {
    const server = await redis();
    const s = store({ client: await client(server.url), commandTimeoutMs: 100 });
    const keys = s.collection('apikeys');
    await keys.ready();
    await server.slow(2500);
    await expect(keys.put('late', 1)).rejects.toThrow(/put in apikeys: no answer within 100 ms/);
    await expect(keys.delete('late')).rejects.toThrow(/delete in apikeys: no answer within 100 ms/);
    await expect(s.setIfAbsent('jti', 10)).rejects.toThrow(/setIfAbsent: no answer within 100 ms/);
    await holds(() => !keys.status().fresh);
    // A write that timed out may still be carried out once Redis answers: its outcome is
    // unknown, not "nothing changed" (put and delete are idempotent: retry them).
    await holds(() => keys.status().fresh);
  });

  it('a replica started (or restarted) mid-flight has the whole collection once ready', async () => {
    const server = await redis();
    const writer = store({ client: await client(server.url) }).collection('apikeys');
    await writer.ready();
    for (let index = 0; index < 50; index++) await writer.put(`k${index}`, index);
    await writer.delete('k7');
    const late = store({ client: await client(server.url) }).collection('apikeys');
    await late.ready();
    expect(late.status().fresh).toBe(true);
    expect([...late.entries()].length).toBe(49);
    expect(late.get('k49')).toBe(49);
    expect(late.get('k7')).toBeUndefined();
  });

  it('Redis back without its data (no persistence) empties the copies: the store is as durable as Redis', async () => {
    const server = await redis();
    const keys = store({ client: await client(server.url) }).collection('revocations');
    await keys.ready();
    await keys.put('jti:1', { until: 1 });
    await server.restart();
    await holds(() => keys.get('jti:1') === undefined && keys.status().fresh);
  });

  it('Redis frozen (DEBUG SLEEP): setIfAbsent rejects after commandTimeoutMs, so callers fail closed', async () => {
    const server = await redis();
    const s = store({ client: await client(server.url), commandTimeoutMs: 100 });
    await server.freeze(1500);
    await expect(s.setIfAbsent('dpop:jti', 10)).rejects.toThrow(/setIfAbsent: no answer within 100 ms/);
    // Each try a new key: a claim that timed out may still be recorded once Redis wakes up.
    let tries = 0;
    expect(
      await eventually(() => s.setIfAbsent(`dpop:after-${tries++}`, 10).catch(() => false), {
        timeoutMs: 5000,
      }),
    ).toBe(true);
    // The claim that timed out was recorded late: a replay of it is refused, as it should be.
    expect(await s.setIfAbsent('dpop:jti', 10)).toBe(false);
  });

  it('a change listener that throws neither stops the others nor the sync; a stray message on the channel is only a hint', async () => {
    const server = await redis();
    const raw = await client(server.url);
    const logger = recorder();
    const b = store({ client: await client(server.url), logger }).collection('apikeys');
    await b.ready();
    const seen: string[] = [];
    b.onChange(() => {
      throw new TypeError('listener bug');
    });
    b.onChange((change) => seen.push(change.field));
    await raw.publish('portcullis:apikeys:changes', 'not-an-id');
    await store({ client: raw }).collection('apikeys').put('one', 1);
    await raw.publish('portcullis:apikeys:changes', '99999999999999-0');
    await store({ client: raw }).collection('apikeys').put('two', 2);
    await holds(() => b.get('two') === 2);
    expect(seen).toEqual(['one', 'two']);
    expect(b.status().fresh).toBe(true);
    expect(
      logger.messages.filter((message) => message.includes('a change listener threw (TypeError)')),
    ).toHaveLength(2);
    expect(logger.messages.join('\n')).not.toContain('listener bug');
  });

  it('setIfAbsent is strongly consistent across two stores, and true again after its TTL', async () => {
    const server = await redis();
    const a = store({ client: await client(server.url) });
    const b = store({ client: await client(server.url) });
    expect(await a.setIfAbsent('dpop:jti-1', 1)).toBe(true);
    expect(await b.setIfAbsent('dpop:jti-1', 1)).toBe(false);
    expect(await a.setIfAbsent('dpop:jti-1', 1)).toBe(false);
    expect(await eventually(() => b.setIfAbsent('dpop:jti-1', 60), { timeoutMs: 4000 })).toBe(true);
    expect(await a.setIfAbsent('dpop:jti-1', 60)).toBe(false);
  });

  it('stores exactly the value it is given, under the documented keys and nothing else', async () => {
    const server = await redis();
    const raw = await client(server.url);
    const s = store({ client: raw, prefix: 'gw1' });
    const keys = s.collection('apikeys');
    await keys.ready();
    const record = { name: 'ci', scopes: ['read'], metadata: { team: 'a' }, expiresAt: null, revoked: false };
    await keys.put('ab12', record);
    await s.setIfAbsent('jti-9', 30);
    expect(await raw.hGetAll('gw1:apikeys:data')).toEqual({ ab12: JSON.stringify(record) });
    const log = await raw.xRange('gw1:apikeys:log', '-', '+');
    expect(log.map((entry) => ({ ...entry.message }))).toEqual([
      { op: 'put', field: 'ab12', value: JSON.stringify(record) },
    ]);
    expect((await raw.keys('*')).sort()).toEqual(['gw1:apikeys:data', 'gw1:apikeys:log', 'gw1:once:jti-9']);
    const ttl = await raw.pTTL('gw1:once:jti-9');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('close() stops the store and closes its pub/sub connection, never the client it was given', async () => {
    const server = await redis();
    const given = await client(server.url);
    const s = redisStore({ ...FAST, client: given, logger: recorder() });
    await s.collection('apikeys').ready();
    const pubsubConnections = async () => (await given.clientList({ TYPE: 'PUBSUB' })).length;
    expect(await eventually(async () => (await pubsubConnections()) === 1)).toBe(true);
    await s.close();
    expect(await eventually(async () => (await pubsubConnections()) === 0)).toBe(true);
    expect(given.isOpen).toBe(true);
    expect(await given.ping()).toBe('PONG');
    await expect(s.collection('apikeys').put('k', 1)).rejects.toThrow(/closed/);
  });

  it('redisStore({ url }) loads redis, makes and closes its own client; logs never show the password', async () => {
    const server = await redis({ password: 's3cret-pass' });
    const logger = recorder();
    const url = `redis://default:s3cret-pass@127.0.0.1:${server.port}`;
    const s = redisStore({ ...FAST, url, logger });
    const keys = s.collection('apikeys');
    await keys.ready();
    await keys.put('k', 1);
    await server.kill();
    await holds(() => !keys.status().fresh);
    await server.restart();
    await holds(() => keys.status().fresh);
    await s.close();
    expect(logger.messages.length).toBeGreaterThan(0);
    expect(logger.messages.join('\n')).not.toContain('s3cret-pass');
    expect(logger.messages.join('\n')).toContain(`redis://***@127.0.0.1:${server.port}`);
  });
});

describe('redisStore options', () => {
  it('refuses mistakes with a ConfigError naming the field', async () => {
    const server = await redis();
    const given = await client(server.url);
    const refusal = (options: unknown) => {
      try {
        redisStore(options as RedisStoreOptions);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).message;
      }
      throw new Error('accepted');
    };
    expect(refusal({ client: given, pollInterval: 50 })).toMatch(/pollInterval/);
    expect(refusal({})).toMatch(/client/);
    expect(refusal({ client: given, url: server.url })).toMatch(/both `client` and `url`/);
    expect(refusal({ client: {} })).toMatch(/client.*node-redis 5 client/);
    expect(refusal({ url: 'http://127.0.0.1:6379' })).toMatch(/url.*redis:\/\//);
    expect(refusal({ client: given, pollIntervalMs: 5 })).toMatch(/pollIntervalMs/);
    expect(refusal({ client: given, commandTimeoutMs: 0 })).toMatch(/commandTimeoutMs/);
    expect(refusal({ client: given, maxStaleSeconds: 0.3, pollIntervalMs: 250 })).toMatch(/maxStaleSeconds/);
    expect(refusal({ client: given, prefix: 'a b' })).toMatch(/prefix/);
    expect(refusal({ client: createClient({ url: server.url }) })).toMatch(/client.*not connected/);
    expect(refusal({ client: given, logger: { warning() {} } })).toMatch(/logger/);
  });
});
