import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyAuthOptions, ApiKeyRecord, Auth } from '../src/index.js';
import { replaceByRename, type TempDir, tempDir } from './support/files.js';
import type { Echo, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { MODES_TABLE } from './support/modes-table.js';
import { rawGet } from './support/raw-request.js';
import { eventually, type RecordingLogger, recorder, sleep } from './support/wait.js';

// apiKeyAuth (issue 3) on both adapters: key records (inline and { file } with reload), where
// the key travels, expiry and revocation, run-time management, identity, modes and challenges.

const all = await frameworks();

const ALICE = 'ak_alice_5f0c1e9a7b3d4c2e8f61a0b9';
const BOB = 'ak_bob_0d9e8f7a6b5c4d3e2f10ab12cd';
const CAROL = 'ak_carol_9a8b7c6d5e4f3a2b1c0d9e8f';
const DAVE = 'ak_dave_13579bdf2468ace013579bdf2';
const DATED = 'ak_dated_c0ffee00c0ffee00c0ffee0';
const DATED_ISO = 'ak_datediso_beef0000beef0000be';
const EXPIRED = 'ak_expired_0123456789abcdef0123';
const EXPIRED_ISO = 'ak_expirediso_fedcba9876543210f';
const REVOKED = 'ak_revoked_00112233445566778899';
const UNKNOWN = 'ak_nobody_ffeeddccbbaa99887766'; // same shape as the stored keys, not one of them
const SECRETS = [ALICE, BOB, CAROL, DAVE, DATED, DATED_ISO, EXPIRED, EXPIRED_ISO, REVOKED];

const sha256 = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');
/** The key and both spellings of its digest: none may appear where secrets must not. */
const secretForms = (key: string) => [key, sha256(key), sha256(key).toUpperCase()];

const HOUR = 3_600_000;
const ALICE_METADATA = { team: 'core', tier: 2, tags: ['ci', 'prod'] };

/** The inline key set most tests use: every record form issue 3 lists. */
function records(): ApiKeyRecord[] {
  return [
    { name: 'alice', key: ALICE, scopes: ['read', 'write'], metadata: ALICE_METADATA },
    { name: 'bob', keyHash: `sha256:${sha256(BOB)}` },
    { name: 'carol', keyHash: `sha256:${sha256(CAROL).toUpperCase()}`, scopes: ['read'] },
    { name: 'dated', key: DATED, expiresAt: new Date(Date.now() + HOUR) },
    { name: 'dated-iso', key: DATED_ISO, expiresAt: new Date(Date.now() + HOUR).toISOString() },
    { name: 'expired', key: EXPIRED, expiresAt: new Date(Date.now() - 1000) },
    { name: 'expired-iso', key: EXPIRED_ISO, expiresAt: '2020-01-01T00:00:00Z' },
    { name: 'revoked', key: REVOKED, revoked: true },
  ];
}

/** The error `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  expect.fail('expected a throw');
}

/** Where a test presents the key. */
type Where = 'bearer' | 'x-api-key';

/** A GET of `path` presenting `key` (if any) at `where`. */
function get(url: string, key?: string, where: Where = 'bearer', path = '/echo') {
  const req = request(url).get(path);
  if (key === undefined) return req;
  return where === 'bearer' ? req.set('Authorization', `Bearer ${key}`) : req.set('X-Api-Key', key);
}

/** Polls until `key` gets `status` (bounded); the last status seen. */
async function statusEventually(url: string, key: string, status: number): Promise<number> {
  let last = 0;
  await eventually(async () => {
    last = (await get(url, key)).status;
    return last === status;
  });
  return last;
}

/** Everything a client can observe of a refusal except the Date header. */
function observable(res: request.Response) {
  const { date: _date, ...headers } = res.headers as Record<string, unknown>;
  return { status: res.status, body: res.text, headers };
}

const X_API_KEY = { header: { name: 'x-api-key' } } as const;

describe.each(all)('apiKeyAuth modes and challenges on $name', (framework) => {
  const servers = new Map<string, TestServer>();
  const made: { close(): Promise<void> }[] = [];
  const serverFor = (where: Where, mode: string) => servers.get(`${where}/${mode}`)!;

  beforeAll(async () => {
    for (const where of ['bearer', 'x-api-key'] as const) {
      for (const mode of ['strict', 'optional', 'permissive'] as const) {
        const middleware = framework.lib.apiKeyAuth({
          keys: records(),
          mode,
          ...(where === 'x-api-key' ? { location: X_API_KEY } : {}),
        });
        made.push(middleware);
        servers.set(`${where}/${mode}`, await framework.serve([middleware]));
      }
    }
  });
  afterAll(async () => {
    for (const server of servers.values()) await server.close();
    for (const middleware of made) await middleware.close();
  });

  // README "Modes", cell by cell, for the default location and for x-api-key.
  const cells = [...MODES_TABLE] as const;
  const table = (['bearer', 'x-api-key'] as const).flatMap((where) =>
    cells.map((cell) => ({ where, ...cell })),
  );

  it.each(table)('$where, $mode, $credential key -> $status', async ({ where, mode, credential, status }) => {
    const key = credential === 'valid' ? ALICE : credential === 'invalid' ? UNKNOWN : undefined;
    const res = await get(serverFor(where, mode).url, key, where);
    expect(res.status).toBe(status);
    const headerName = where === 'bearer' ? 'authorization' : 'x-api-key';
    const sent = where === 'bearer' ? `Bearer ${key}` : key;

    if (status !== 200) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      // The body's code is the challenge's: RFC 6750's invalid_token behind Bearer (issue 12).
      const refused = where === 'bearer' ? 'invalid_token' : 'invalid_credentials';
      const code = credential === 'none' ? 'credentials_missing' : refused;
      expect(res.body).toEqual({ error: code, error_description: expect.any(String) });
      const challenge = res.headers['www-authenticate'];
      if (where === 'x-api-key' && credential === 'none') {
        expect(challenge).toBe('ApiKey realm="api", header="x-api-key"');
      } else if (where === 'x-api-key') {
        expect(challenge).toBe(
          `ApiKey realm="api", header="x-api-key", error="invalid_credentials", error_description="${res.body.error_description}"`,
        );
      } else if (credential === 'none') {
        expect(challenge).toBe('Bearer realm="api"');
      } else {
        expect(challenge).toMatch(/^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/);
      }
      expect(res.text).not.toContain(UNKNOWN);
      return;
    }

    const echo = res.body as Echo;
    if (credential === 'valid') {
      expect(echo.auth).toEqual({
        subject: 'alice',
        scopes: ['read', 'write'],
        method: 'apiKey',
        apiKey: { name: 'alice', scopes: ['read', 'write'], metadata: ALICE_METADATA },
      });
      // Stripped on success: neither the parsed headers nor the raw list still hold it.
      expect(echo.headers[headerName]).toBeUndefined();
      expect(echo.rawHeaders.map((h) => h.toLowerCase())).not.toContain(headerName);
      expect(res.text).not.toContain(ALICE);
    } else if (credential === 'invalid') {
      // Permissive: the invalid key is left in place for whatever comes next.
      expect(echo.auth).toBeNull();
      expect(echo.headers[headerName]).toBe(sent);
    } else {
      expect(echo.auth).toBeNull();
      expect(echo.headers[headerName]).toBeUndefined();
    }
  });

  it('treats another scheme in Authorization as no key (default location)', async () => {
    const strict = await get(serverFor('bearer', 'strict').url).set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(strict.status).toBe(401);
    expect(strict.body.error).toBe('credentials_missing');
    expect(strict.headers['www-authenticate']).toBe('Bearer realm="api"');
    const optional = await get(serverFor('bearer', 'optional').url).set(
      'Authorization',
      'Basic dXNlcjpwYXNz',
    );
    expect(optional.status).toBe(200);
    expect((optional.body as Echo).headers.authorization).toBe('Basic dXNlcjpwYXNz');
  });

  it('matches the Bearer prefix case-insensitively', async () => {
    const res = await request(serverFor('bearer', 'strict').url)
      .get('/')
      .set('Authorization', `bEARER ${BOB}`);
    expect(res.status).toBe(200);
    expect((res.body as Echo).auth?.subject).toBe('bob');
  });

  it('answers a key sent twice with 400 invalid_request, in every mode', async () => {
    for (const mode of ['strict', 'optional', 'permissive']) {
      for (const keys of [
        [ALICE, ALICE],
        [ALICE, UNKNOWN],
      ]) {
        const res = await rawGet(`${serverFor('x-api-key', mode).url}/echo`, { 'x-api-key': keys });
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body)).toEqual({
          error: 'invalid_request',
          error_description: expect.any(String),
        });
        expect(res.body).not.toContain(ALICE);
      }
    }
  });
});

describe.each(all)('apiKeyAuth key records on $name', (framework) => {
  let server: TestServer;
  let middleware: { close(): Promise<void> };
  beforeAll(async () => {
    middleware = framework.lib.apiKeyAuth({ keys: records(), location: X_API_KEY });
    server = await framework.serve([middleware]);
  });
  afterAll(async () => {
    await server.close();
    await middleware.close();
  });

  it.each([
    { form: 'plaintext key', key: ALICE, name: 'alice', scopes: ['read', 'write'] },
    { form: 'keyHash in lower-case hex, default scopes', key: BOB, name: 'bob', scopes: ['*'] },
    { form: 'keyHash in upper-case hex', key: CAROL, name: 'carol', scopes: ['read'] },
    { form: 'future expiresAt as a Date', key: DATED, name: 'dated', scopes: ['*'] },
    { form: 'future expiresAt as an ISO 8601 string', key: DATED_ISO, name: 'dated-iso', scopes: ['*'] },
  ])('accepts a $form', async ({ key, name, scopes }) => {
    const res = await get(server.url, key, 'x-api-key');
    expect(res.status).toBe(200);
    const auth = (res.body as Echo).auth!;
    expect(auth).toMatchObject({ subject: name, scopes, method: 'apiKey', apiKey: { name, scopes } });
    expect(auth.apiKey!.metadata).toEqual(name === 'alice' ? ALICE_METADATA : {});
  });

  const unknownKeys = [
    { form: 'an unknown key as long as the stored ones', key: UNKNOWN },
    { form: 'a short key of another length', key: 'abc' },
    { form: 'a very long key (10 KB)', key: 'k'.repeat(10 * 1024) },
    { form: 'the hex digest of a stored key', key: sha256(ALICE) },
    { form: 'the keyHash text of a stored key', key: `sha256:${sha256(BOB)}` },
    // Header values travel as bytes: UTF-8 text arrives as its latin1 reading.
    { form: 'a key with unicode (UTF-8 bytes)', key: Buffer.from('ключ-🔑-clé', 'utf8').toString('latin1') },
    { form: 'a key with latin1 characters', key: 'clé-secrète-ñ' },
  ];

  it.each(unknownKeys)('refuses $form with 401 invalid_credentials, never 500', async ({ key }) => {
    const res = await get(server.url, key, 'x-api-key');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_credentials');
    expect(res.headers['www-authenticate']).toBe(
      'ApiKey realm="api", header="x-api-key", error="invalid_credentials", error_description="The API key is not valid"',
    );
  });

  it.each([
    { form: 'a past expiresAt given as a Date', key: EXPIRED },
    { form: 'a past expiresAt given as an ISO 8601 string', key: EXPIRED_ISO },
    { form: 'revoked: true', key: REVOKED },
  ])('refuses a key with $form exactly as it refuses an unknown key', async ({ key }) => {
    const unknown = await get(server.url, UNKNOWN, 'x-api-key');
    const refused = await get(server.url, key, 'x-api-key');
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_credentials');
    expect(observable(refused)).toEqual(observable(unknown));
  });

  it('gives the same answer for expired and revoked keys in the default Bearer location', async () => {
    const bearer = framework.lib.apiKeyAuth({ keys: records() });
    const app = await framework.serve([bearer]);
    try {
      const unknown = observable(await get(app.url, UNKNOWN));
      expect(unknown.status).toBe(401);
      for (const key of [EXPIRED, EXPIRED_ISO, REVOKED])
        expect(observable(await get(app.url, key))).toEqual(unknown);
    } finally {
      await app.close();
      await bearer.close();
    }
  });

  it('never answers 500 for odd keys in the query or a cookie', async () => {
    const query = framework.lib.apiKeyAuth({
      keys: records(),
      location: { queryParameter: { name: 'api_key' } },
    });
    const cookie = framework.lib.apiKeyAuth({ keys: records(), location: { cookie: { name: 'k' } } });
    const queryApp = await framework.serve([query]);
    const cookieApp = await framework.serve([cookie]);
    try {
      for (const value of [
        encodeURIComponent('ключ-🔑-clé'),
        '%E0%A4%A', // broken percent-encoding
        'x'.repeat(10 * 1024),
        'abc',
      ]) {
        const res = await request(queryApp.url).get(`/echo?api_key=${value}`);
        expect(res.status).toBe(401);
        expect(['invalid_credentials', 'invalid_request']).toContain(res.body.error);
      }
      for (const value of [encodeURIComponent('ключ-🔑'), '%E0%A4%A', 'y'.repeat(10 * 1024)]) {
        const res = await request(cookieApp.url).get('/echo').set('Cookie', `k=${value}`);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_credentials');
      }
    } finally {
      await queryApp.close();
      await cookieApp.close();
      await query.close();
      await cookie.close();
    }
  });

  it('accepts a configured unicode key sent percent-encoded in the query', async () => {
    const unicode = 'ключ-🔑-clé-0123';
    const query = framework.lib.apiKeyAuth({
      keys: [{ name: 'unicode', key: unicode }],
      location: { queryParameter: { name: 'api_key' } },
    });
    const app = await framework.serve([query]);
    try {
      const res = await request(app.url).get(`/echo?api_key=${encodeURIComponent(unicode)}`);
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth?.subject).toBe('unicode');
    } finally {
      await app.close();
      await query.close();
    }
  });
});

describe.each(all)('apiKeyAuth locations, identity, management and start-up on $name', (framework) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const middleware = (options: ApiKeyAuthOptions) => {
    const made = framework.lib.apiKeyAuth(options);
    cleanups.push(() => made.close());
    return made;
  };
  const serve = async (middlewares: unknown[]) => {
    const server = await framework.serve(middlewares);
    cleanups.push(() => server.close());
    return server.url;
  };

  describe('location', () => {
    it('reads x-api-key and removes it', async () => {
      const url = await serve([middleware({ keys: records(), location: X_API_KEY })]);
      const res = await request(url).get('/echo').set('X-API-Key', ALICE).set('X-Other', 'kept');
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth?.subject).toBe('alice');
      expect(echo.headers['x-api-key']).toBeUndefined();
      expect(echo.headers['x-other']).toBe('kept');
      expect(JSON.stringify(echo)).not.toContain(ALICE);
      // The key in Authorization is not where this middleware looks.
      const elsewhere = await get(url, ALICE, 'bearer');
      expect(elsewhere.status).toBe(401);
      expect(elsewhere.body.error).toBe('credentials_missing');
    });

    it('reads a query parameter and strips it from url, originalUrl and query', async () => {
      const url = await serve([
        middleware({ keys: records(), location: { queryParameter: { name: 'api_key' } } }),
      ]);
      const res = await request(url).get(`/items?a=1&api_key=${ALICE}&b=%20x`);
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth?.subject).toBe('alice');
      expect(echo.url).toBe('/items?a=1&b=%20x');
      expect(echo.originalUrl).toBe('/items?a=1&b=%20x');
      expect(echo.query).toEqual({ a: '1', b: ' x' });
      expect(JSON.stringify(echo)).not.toContain(ALICE);

      const only = await request(url).get(`/items?api_key=${BOB}`);
      expect(only.status).toBe(200);
      expect((only.body as Echo).url).toBe('/items');
      expect((only.body as Echo).query).toEqual({});

      const missing = await request(url).get('/items?a=1');
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('ApiKey realm="api", query="api_key"');

      const twice = await request(url).get(`/items?api_key=${ALICE}&api_key=${ALICE}`);
      expect(twice.status).toBe(400);
      expect(twice.body.error).toBe('invalid_request');
    });

    it('reads a cookie and removes only that cookie', async () => {
      const url = await serve([middleware({ keys: records(), location: { cookie: { name: 'api_key' } } })]);
      const res = await request(url).get('/echo').set('Cookie', `theme=dark; api_key=${ALICE}; lang=en`);
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth?.subject).toBe('alice');
      expect(echo.headers.cookie).toBe('theme=dark; lang=en');

      const only = await request(url).get('/echo').set('Cookie', `api_key=${BOB}`);
      expect(only.status).toBe(200);
      expect((only.body as Echo).headers.cookie).toBeUndefined();

      const missing = await request(url).get('/echo').set('Cookie', 'theme=dark');
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('ApiKey realm="api", cookie="api_key"');
    });

    it('leaves an invalid key in place in permissive mode, wherever it travels', async () => {
      const mode = 'permissive' as const;
      const header = await serve([middleware({ keys: records(), mode, location: X_API_KEY })]);
      const query = await serve([
        middleware({ keys: records(), mode, location: { queryParameter: { name: 'api_key' } } }),
      ]);
      const cookie = await serve([
        middleware({ keys: records(), mode, location: { cookie: { name: 'k' } } }),
      ]);

      const viaHeader = (await get(header, EXPIRED, 'x-api-key')).body as Echo;
      expect(viaHeader.auth).toBeNull();
      expect(viaHeader.headers['x-api-key']).toBe(EXPIRED);

      const viaQuery = (await request(query).get(`/items?api_key=${UNKNOWN}&a=1`)).body as Echo;
      expect(viaQuery.auth).toBeNull();
      expect(viaQuery.url).toBe(`/items?api_key=${UNKNOWN}&a=1`);
      expect(viaQuery.originalUrl).toBe(`/items?api_key=${UNKNOWN}&a=1`);
      expect(viaQuery.query).toEqual({ api_key: UNKNOWN, a: '1' });

      const viaCookie = (await request(cookie).get('/echo').set('Cookie', `a=1; k=${REVOKED}`)).body as Echo;
      expect(viaCookie.auth).toBeNull();
      expect(viaCookie.headers.cookie).toBe(`a=1; k=${REVOKED}`);

      // And a valid key is still consumed in permissive mode.
      const valid = await request(query).get(`/items?api_key=${ALICE}&a=1`);
      expect((valid.body as Echo).auth?.subject).toBe('alice');
      expect((valid.body as Echo).url).toBe('/items?a=1');
    });
  });

  describe('identity', () => {
    it('is { subject, scopes, method, apiKey } and never holds the key or its digest', async () => {
      const url = await serve([middleware({ keys: records() })]);
      for (const [key, name, scopes, metadata] of [
        [ALICE, 'alice', ['read', 'write'], ALICE_METADATA],
        [BOB, 'bob', ['*'], {}],
        [CAROL, 'carol', ['read'], {}],
      ] as const) {
        const res = await get(url, key);
        expect(res.status).toBe(200);
        const auth = (res.body as Echo).auth;
        expect(auth).toEqual({ subject: name, scopes, method: 'apiKey', apiKey: { name, scopes, metadata } });
        for (const secret of secretForms(key)) {
          expect(JSON.stringify(auth)).not.toContain(secret);
          expect(res.text).not.toContain(secret);
        }
      }
    });

    it('keeps the in-process auth object free of the key too', async () => {
      let seen: Auth | undefined;
      const capture = framework.name.startsWith('express')
        ? (req: { auth?: Auth }, _res: unknown, next: () => void) => {
            seen = req.auth;
            next();
          }
        : async (ctx: { state: { auth?: Auth } }, next: () => Promise<void>) => {
            seen = ctx.state.auth;
            await next();
          };
      const url = await serve([middleware({ keys: records(), location: X_API_KEY }), capture]);
      expect((await get(url, ALICE, 'x-api-key')).status).toBe(200);
      expect(seen?.subject).toBe('alice');
      for (const secret of secretForms(ALICE)) expect(JSON.stringify(seen)).not.toContain(secret);
      expect(Object.keys(seen!).sort()).toEqual(['apiKey', 'method', 'scopes', 'subject']);
    });
  });

  describe('run-time management', () => {
    it('add, revoke and list take effect from the next request', async () => {
      const keys = middleware({ keys: [{ name: 'alice', key: ALICE, scopes: ['read'] }] });
      const url = await serve([keys]);
      expect((await get(url, BOB)).status).toBe(401);

      await keys.add({ name: 'bob', key: BOB, scopes: ['deploy'], metadata: { owner: 'ops' } });
      const added = await get(url, BOB);
      expect(added.status).toBe(200);
      expect((added.body as Echo).auth).toEqual({
        subject: 'bob',
        scopes: ['deploy'],
        method: 'apiKey',
        apiKey: { name: 'bob', scopes: ['deploy'], metadata: { owner: 'ops' } },
      });

      await keys.add({ name: 'carol', keyHash: `sha256:${sha256(CAROL).toUpperCase()}` });
      expect((await get(url, CAROL)).status).toBe(200);

      expect(await keys.revoke('alice')).toBe(true);
      const revoked = await get(url, ALICE);
      expect(revoked.status).toBe(401);
      expect(observable(revoked)).toEqual(observable(await get(url, UNKNOWN)));

      // A key added at run time can be revoked at run time.
      expect(await keys.revoke('bob')).toBe(true);
      expect((await get(url, BOB)).status).toBe(401);
      expect(await keys.revoke('nobody')).toBe(false);
      expect((await get(url, CAROL)).status).toBe(200);

      expect(keys.list().sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { name: 'alice', scopes: ['read'], metadata: {}, revoked: true },
        { name: 'bob', scopes: ['deploy'], metadata: { owner: 'ops' }, revoked: true },
        { name: 'carol', scopes: ['*'], metadata: {}, revoked: false },
      ]);
    });

    it('list() shows no key, no keyHash and no digest', () => {
      const keys = middleware({ keys: records() });
      keys.add({ name: 'dave', key: DAVE });
      const list = keys.list();
      expect(list.map((info) => info.name).sort()).toEqual(
        ['alice', 'bob', 'carol', 'dated', 'dated-iso', 'dave', 'expired', 'expired-iso', 'revoked'].sort(),
      );
      for (const info of list) {
        expect(
          Object.keys(info).every((k) => ['name', 'scopes', 'metadata', 'expiresAt', 'revoked'].includes(k)),
        ).toBe(true);
      }
      const text = JSON.stringify(list);
      for (const secret of SECRETS.flatMap(secretForms)) expect(text).not.toContain(secret);
      expect(text).not.toContain('sha256');
      expect(list.find((info) => info.name === 'alice')).toEqual({
        name: 'alice',
        scopes: ['read', 'write'],
        metadata: ALICE_METADATA,
        revoked: false,
      });
      expect(list.find((info) => info.name === 'expired-iso')?.expiresAt).toBe('2020-01-01T00:00:00.000Z');
      expect(list.find((info) => info.name === 'revoked')?.revoked).toBe(true);
    });

    it('add() refuses a duplicate name or key with a ConfigError that holds no secret', async () => {
      const keys = middleware({ keys: [{ name: 'alice', key: ALICE }], location: X_API_KEY });
      const url = await serve([keys]);
      const duplicates: ApiKeyRecord[] = [
        { name: 'alice', key: BOB },
        { name: 'alias', key: ALICE },
        { name: 'alias', keyHash: `sha256:${sha256(ALICE).toUpperCase()}` },
      ];
      for (const record of duplicates) {
        const error = thrown(() => keys.add(record));
        expect(error).toBeInstanceOf(framework.lib.ConfigError);
        for (const secret of [...secretForms(ALICE), ...secretForms(BOB)])
          expect(error.message).not.toContain(secret);
      }
      // A refused add changes nothing.
      expect((await get(url, BOB, 'x-api-key')).status).toBe(401);
      expect(keys.list().map((info) => info.name)).toEqual(['alice']);
      expect((await get(url, ALICE, 'x-api-key')).status).toBe(200);

      // A bad record is refused the same way; a good one after it still goes in.
      expect(() => keys.add({ name: 'short', key: 'abc' })).toThrow(framework.lib.ConfigError);
      await keys.add({ name: 'bob', key: BOB });
      expect((await get(url, BOB, 'x-api-key')).status).toBe(200);
    });
  });

  describe('start-up', () => {
    it.each([
      {
        problem: 'the same name twice',
        keys: [
          { name: 'alice', key: ALICE },
          { name: 'alice', key: BOB },
        ],
        word: /name/,
      },
      {
        problem: 'the same key twice',
        keys: [
          { name: 'alice', key: ALICE },
          { name: 'bob', key: ALICE },
        ],
        word: /key/,
      },
      {
        problem: 'a key and the keyHash of that key (upper-case hex)',
        keys: [
          { name: 'alice', key: ALICE },
          { name: 'bob', keyHash: `sha256:${sha256(ALICE).toUpperCase()}` },
        ],
        word: /key/,
      },
      {
        problem: 'the same keyHash twice',
        keys: [
          { name: 'alice', keyHash: `sha256:${sha256(ALICE)}` },
          { name: 'bob', keyHash: `sha256:${sha256(ALICE)}` },
        ],
        word: /key/,
      },
    ])('refuses $problem with a ConfigError naming `keys` and holding no secret', ({ keys, word }) => {
      const error = thrown(() => framework.lib.apiKeyAuth({ keys }));
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      expect(error.message).toMatch(/`keys`/);
      expect(error.message).toMatch(word);
      for (const secret of [...secretForms(ALICE), ...secretForms(BOB)])
        expect(error.message).not.toContain(secret);
    });

    it.each([
      {
        problem: 'both key and keyHash',
        record: { name: 'x', key: ALICE, keyHash: `sha256:${sha256(ALICE)}` },
      },
      { problem: 'neither key nor keyHash', record: { name: 'x' } },
      { problem: 'a keyHash without the sha256: prefix', record: { name: 'x', keyHash: sha256(ALICE) } },
      {
        problem: 'a keyHash of the wrong length',
        record: { name: 'x', keyHash: `sha256:${sha256(ALICE)}00` },
      },
      {
        problem: 'an expiresAt that is no date',
        record: { name: 'x', key: ALICE, expiresAt: 'next tuesday' },
      },
      { problem: 'an empty name', record: { name: '', key: ALICE } },
    ])('refuses a record with $problem, naming it and holding no secret', ({ record }) => {
      const keys = [{ name: 'ok', key: BOB }, record] as ApiKeyRecord[];
      const error = thrown(() => framework.lib.apiKeyAuth({ keys }));
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      expect(error.message).toMatch(/`keys\[1\][.`]/);
      for (const secret of [...secretForms(ALICE), ...secretForms(BOB)])
        expect(error.message).not.toContain(secret);
    });

    it('close() resolves for inline keys', async () => {
      const keys = framework.lib.apiKeyAuth({ keys: records() });
      await expect(keys.close()).resolves.toBeUndefined();
    });
  });
});

describe.each(all)('apiKeyAuth keys file on $name', (framework) => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir('portcullis-apikey-');
  });
  afterAll(async () => {
    await dir.remove();
  });

  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const middleware = (options: ApiKeyAuthOptions) => {
    const made = framework.lib.apiKeyAuth({ logger: recorder(), ...options });
    cleanups.push(() => made.close());
    return made;
  };
  const serve = async (made: unknown) => {
    const server = await framework.serve([made]);
    cleanups.push(() => server.close());
    return server.url;
  };
  let files = 0;
  /** A new keys file holding `list` (Dates become ISO strings, as JSON has it). */
  const keysFile = async (list: unknown) => {
    const path = dir.file(`keys-${++files}.json`);
    await writeFile(path, JSON.stringify(list));
    return path;
  };
  const warned = (logger: RecordingLogger, count: number) =>
    eventually(
      () => logger.messages.filter((m) => m.includes('keeping the previous version')).length >= count,
    );
  const assertNoSecrets = (logger: RecordingLogger) => {
    const text = logger.messages.join('\n');
    for (const secret of SECRETS.flatMap(secretForms)) expect(text).not.toContain(secret);
  };

  it('reads every record form from a JSON array', async () => {
    const path = await keysFile(records());
    const keys = middleware({ keys: { file: path }, location: X_API_KEY });
    const url = await serve(keys);
    for (const [key, name] of [
      [ALICE, 'alice'],
      [BOB, 'bob'],
      [CAROL, 'carol'],
      [DATED, 'dated'],
      [DATED_ISO, 'dated-iso'],
    ]) {
      const res = await get(url, key, 'x-api-key');
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth?.subject).toBe(name);
    }
    expect((await get(url, ALICE, 'x-api-key')).body.auth.apiKey).toEqual({
      name: 'alice',
      scopes: ['read', 'write'],
      metadata: ALICE_METADATA,
    });
    const unknown = observable(await get(url, UNKNOWN, 'x-api-key'));
    for (const key of [EXPIRED, EXPIRED_ISO, REVOKED]) {
      expect(observable(await get(url, key, 'x-api-key'))).toEqual(unknown);
    }
    const text = JSON.stringify(keys.list());
    for (const secret of SECRETS.flatMap(secretForms)) expect(text).not.toContain(secret);
  });

  it('follows rewrites in place and replacements by rename, keeping the last good set', async () => {
    const path = await keysFile([{ name: 'alice', key: ALICE }]);
    const logger = recorder();
    const url = await serve(middleware({ keys: { file: path }, logger }));
    expect((await get(url, ALICE)).status).toBe(200);
    expect((await get(url, BOB)).status).toBe(401);

    await writeFile(
      path,
      JSON.stringify([
        { name: 'alice', key: ALICE },
        { name: 'bob', key: BOB },
      ]),
    );
    expect(await statusEventually(url, BOB, 200)).toBe(200);

    await replaceByRename(
      path,
      JSON.stringify([
        { name: 'bob', key: BOB },
        { name: 'carol', keyHash: `sha256:${sha256(CAROL).toUpperCase()}` },
      ]),
    );
    expect(await statusEventually(url, CAROL, 200)).toBe(200);
    expect((await get(url, ALICE)).status).toBe(401);

    // A broken version (half-written JSON) is reported and the last good set stays.
    await writeFile(path, '[{"name": "dave", "key": ');
    expect(await warned(logger, 1)).toBe(true);
    expect((await get(url, BOB)).status).toBe(200);
    expect((await get(url, CAROL)).status).toBe(200);
    expect((await get(url, ALICE)).status).toBe(401);

    // So is a version that is valid JSON but not a list of good records.
    await replaceByRename(path, JSON.stringify([{ name: 'dave', key: 'short' }]));
    expect(await warned(logger, 2)).toBe(true);
    expect((await get(url, BOB)).status).toBe(200);

    // A later good version is taken again.
    await replaceByRename(path, JSON.stringify([{ name: 'dave', key: DAVE }]));
    expect(await statusEventually(url, DAVE, 200)).toBe(200);
    expect((await get(url, BOB)).status).toBe(401);
    expect((await get(url, CAROL)).status).toBe(401);
    assertNoSecrets(logger);
  });

  it('keeps the last good set when a reload brings a duplicate name or key', async () => {
    const good = [
      { name: 'alice', key: ALICE },
      { name: 'bob', keyHash: `sha256:${sha256(BOB)}` },
    ];
    const path = await keysFile(good);
    const logger = recorder();
    const url = await serve(middleware({ keys: { file: path }, logger }));

    await writeFile(path, JSON.stringify([...good, { name: 'alice', key: DAVE }]));
    expect(await warned(logger, 1)).toBe(true);
    expect((await get(url, DAVE)).status).toBe(401);
    expect((await get(url, ALICE)).status).toBe(200);
    expect((await get(url, BOB)).status).toBe(200);

    await replaceByRename(
      path,
      JSON.stringify([...good, { name: 'dave', keyHash: `sha256:${sha256(ALICE).toUpperCase()}` }]),
    );
    expect(await warned(logger, 2)).toBe(true);
    const res = await get(url, ALICE);
    expect(res.status).toBe(200);
    expect((res.body as Echo).auth?.subject).toBe('alice');
    expect((await get(url, BOB)).status).toBe(200);
    assertNoSecrets(logger);
  });

  it('keeps run-time revocations and additions across a reload', async () => {
    const path = await keysFile([
      { name: 'alice', key: ALICE },
      { name: 'bob', key: BOB },
    ]);
    const keys = middleware({ keys: { file: path } });
    const url = await serve(keys);
    expect(await keys.revoke('alice')).toBe(true);
    expect((await get(url, ALICE)).status).toBe(401);
    await keys.add({ name: 'carol', key: CAROL });
    expect((await get(url, CAROL)).status).toBe(200);

    await replaceByRename(
      path,
      JSON.stringify([
        { name: 'alice', key: ALICE },
        { name: 'bob', key: BOB },
        { name: 'dave', key: DAVE },
      ]),
    );
    expect(await statusEventually(url, DAVE, 200)).toBe(200);
    expect((await get(url, ALICE)).status).toBe(401);
    expect((await get(url, BOB)).status).toBe(200);
    expect((await get(url, CAROL)).status).toBe(200);
    const states = keys.list().map(({ name, revoked }) => ({ name, revoked }));
    expect(states.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'alice', revoked: true },
      { name: 'bob', revoked: false },
      { name: 'carol', revoked: false },
      { name: 'dave', revoked: false },
    ]);
  });

  it('refuses a reload that clashes with a key added at run time, keeping the last good set', async () => {
    const path = await keysFile([{ name: 'alice', key: ALICE }]);
    const logger = recorder();
    const keys = middleware({ keys: { file: path }, logger });
    const url = await serve(keys);
    await keys.add({ name: 'bob', key: BOB });

    // The file now names "bob" too (with another key), then holds bob's key under another name.
    await writeFile(
      path,
      JSON.stringify([
        { name: 'alice', key: ALICE },
        { name: 'bob', key: DAVE },
      ]),
    );
    expect(await warned(logger, 1)).toBe(true);
    expect((await get(url, DAVE)).status).toBe(401);
    await replaceByRename(
      path,
      JSON.stringify([
        { name: 'alice', key: ALICE },
        { name: 'robert', key: BOB },
      ]),
    );
    expect(await warned(logger, 2)).toBe(true);
    const bob = await get(url, BOB);
    expect(bob.status).toBe(200);
    expect((bob.body as Echo).auth?.subject).toBe('bob');
    assertNoSecrets(logger);

    // Management still works, and a later good version is taken.
    expect(await keys.revoke('alice')).toBe(true);
    expect((await get(url, ALICE)).status).toBe(401);
    await keys.add({ name: 'carol', key: CAROL });
    expect((await get(url, CAROL)).status).toBe(200);
    await writeFile(
      path,
      JSON.stringify([
        { name: 'alice', key: ALICE },
        { name: 'dave', key: DAVE },
      ]),
    );
    expect(await statusEventually(url, DAVE, 200)).toBe(200);
    expect((await get(url, ALICE)).status).toBe(401);
    expect((await get(url, BOB)).status).toBe(200);
  });

  it('refuses to start on a missing, broken or duplicated keys file, naming `keys.file`', async () => {
    const cases = [
      dir.file('missing.json'),
      await keysFile('not an array'),
      await keysFile([
        { name: 'alice', key: ALICE },
        { name: 'alice', key: BOB },
      ]),
      await keysFile([
        { name: 'alice', key: ALICE },
        { name: 'bob', keyHash: `sha256:${sha256(ALICE).toUpperCase()}` },
      ]),
      await keysFile([{ name: 'alice', key: ALICE, expiresAt: 'soon' }]),
    ];
    const broken = dir.file('broken.json');
    await writeFile(broken, '[{"name": "alice", "key": ');
    cases.push(broken);
    for (const file of cases) {
      const error = thrown(() => framework.lib.apiKeyAuth({ keys: { file }, logger: recorder() }));
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      expect(error.message).toMatch(/`keys\.file`/);
      for (const secret of [...secretForms(ALICE), ...secretForms(BOB)])
        expect(error.message).not.toContain(secret);
    }
  });

  it('close() resolves and stops watching the file', async () => {
    const path = await keysFile([{ name: 'alice', key: ALICE }]);
    const closedLogger = recorder();
    const closed = framework.lib.apiKeyAuth({ keys: { file: path }, logger: closedLogger });
    cleanups.push(() => closed.close());
    const closedUrl = await serve(closed);
    expect((await get(closedUrl, ALICE)).status).toBe(200);
    await expect(closed.close()).resolves.toBeUndefined();

    // A live middleware on the same file shows when each write has been seen.
    const control = recorder();
    const controlUrl = await serve(middleware({ keys: { file: path }, logger: control }));
    await writeFile(
      path,
      JSON.stringify([
        { name: 'alice', key: ALICE },
        { name: 'bob', key: BOB },
      ]),
    );
    expect(await statusEventually(controlUrl, BOB, 200)).toBe(200);
    await writeFile(path, 'not json');
    expect(await warned(control, 1)).toBe(true);
    await sleep(150);
    expect(closedLogger.messages).toEqual([]);
    // Closed, it serves no key at all (503): its copy no longer follows anything (store-review).
    expect((await get(closedUrl, BOB)).status).toBe(503);
  });
});
