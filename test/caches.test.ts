import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../src/jwt/provider.js';
import { VerifiedTokens } from '../src/jwt/verified-tokens.js';
import type { VerifyKey } from '../src/jwt/verify.js';
import { replaceByRename, tempDir } from './support/files.js';
import { type Echo, frameworks, type TestServer } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';

// The verification caches (jwtAuth's verified tokens, basicAuth's successful checks) must
// never change an answer: a cached hit still expires with its token, dies with its key or
// with the htpasswd version it was made under; failures are never remembered.

const all = await frameworks();
const quiet = { warn() {} };
let key: TestKey;
let other: TestKey;

beforeAll(async () => {
  key = await makeKey('RS256');
  other = await makeKey('RS256');
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => Promise<boolean>, timeoutMs = 8000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(100);
  }
  return check();
}

const sha = (password: string) => `{SHA}${createHash('sha1').update(password).digest('base64')}`;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe.each(all)('verification caches on $name', (framework) => {
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
  const bearer = (server: TestServer, token: string) =>
    request(server.url).get('/').set('Authorization', `Bearer ${token}`);
  /** jwtAuth with the inline key set of `key`, and `extra` options. */
  const inlineJwt = (extra: Partial<Parameters<typeof framework.lib.jwtAuth>[0]> = {}) =>
    serve(
      framework.lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(key) }, ...extra }),
    );

  it('refuses a cached token once it expires (the hit checks exp against the clock)', async () => {
    const server = await inlineJwt({ clockSkewSeconds: 0 });
    const token = await sign(key, {}, { expiresIn: Math.floor(Date.now() / 1000) + 2 });
    expect((await bearer(server, token)).status).toBe(200);
    expect((await bearer(server, token)).status).toBe(200); // served from the cache
    const expired = await eventually(async () => (await bearer(server, token)).status === 401);
    expect(expired).toBe(true);
    // Behind a Bearer challenge an expired token is RFC 6750's invalid_token (issue 12).
    expect((await bearer(server, token)).body).toEqual({
      error: 'invalid_token',
      error_description: 'The token has expired',
    });
  });

  it('drops a cached token when its key leaves the key set', async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const path = dir.file('jwks.json');
    await writeFile(path, JSON.stringify(jwks(key, other)));
    const server = await serve(
      framework.lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { file: path }, logger: quiet }),
    );
    const token = await sign(key);
    expect((await bearer(server, token)).status).toBe(200);
    expect((await bearer(server, token)).status).toBe(200);
    await replaceByRename(path, JSON.stringify(jwks(other)));
    expect(await eventually(async () => (await bearer(server, token)).status === 401)).toBe(true);
    // The key that stayed still works.
    expect((await bearer(server, await sign(other))).status).toBe(200);
  });

  it('never caches a failure: a token refused once is checked again', async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const path = dir.file('jwks.json');
    await writeFile(path, JSON.stringify(jwks(other)));
    const server = await serve(
      framework.lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { file: path }, logger: quiet }),
    );
    const token = await sign(key);
    expect((await bearer(server, token)).status).toBe(401);
    await replaceByRename(path, JSON.stringify(jwks(key, other)));
    expect(await eventually(async () => (await bearer(server, token)).status === 200)).toBe(true);
  });

  it('gives every request its own identity with the same frozen claims', async () => {
    const server = await inlineJwt();
    const token = await sign(key, { sub: 'frozen', groups: ['a'] });
    const first = (await bearer(server, token)).body as Echo;
    const second = (await bearer(server, token)).body as Echo;
    expect(second.auth).toEqual(first.auth);
    expect(second.auth).toMatchObject({ subject: 'frozen', scopes: ['read', 'write'], method: 'jwt' });
  });

  it('serves a hit only for the whole token: another token ending in the same signature characters is verified', async () => {
    // The cache is keyed by the last 32 characters of the token and confirmed by the whole
    // token: a forged header or payload, or another signature start, must never ride a hit.
    const server = await inlineJwt({ logger: quiet });
    const token = await sign(key, { sub: 'alice', scope: 'read' });
    expect(((await bearer(server, token)).body as Echo).auth?.subject).toBe('alice');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forgedClaims = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        sub: 'root',
        scope: 'admin',
      }),
    ).toString('base64url');
    const flipped = (text: string, at: number) =>
      `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
    const lookalikes = [
      `${header}.${forgedClaims}.${signature}`, // other claims, the same signature
      `${header}.${payload}.${flipped(signature, 0)}`, // the same end, another signature start
      `${header}.${payload}.${flipped(signature, signature.length - 40)}`,
      `${flipped(header, 3)}.${payload}.${signature}`,
    ];
    for (const lookalike of lookalikes) {
      expect(lookalike.slice(-32)).toBe(token.slice(-32));
      const res = await bearer(server, lookalike);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
    }
    // And the genuine token still hits, with its own claims.
    const again = (await bearer(server, token)).body as Echo;
    expect(again.auth).toMatchObject({ subject: 'alice', scopes: ['read'] });
  });

  it('caches a long token (20 KB of claims) like any other', async () => {
    const server = await inlineJwt({ maxTokenLength: 40_000 });
    const long = await sign(key, { sub: 'long', padding: 'x'.repeat(20_000) });
    expect(long.length).toBeGreaterThan(20_000);
    for (let i = 0; i < 3; i++)
      expect(((await bearer(server, long)).body as Echo).auth?.subject).toBe('long');
  });

  it('behaves the same with the cache turned off', async () => {
    const server = await inlineJwt({ cache: false });
    const token = await sign(key);
    expect((await bearer(server, token)).status).toBe(200);
    expect((await bearer(server, token)).status).toBe(200);
    expect((await bearer(server, await sign(other, {}, { kid: key.kid }))).status).toBe(401);
  });

  it('refuses cache options that cannot work, naming the field', () => {
    const make = (cache: unknown) => () =>
      framework.lib.jwtAuth({
        issuer: ISSUER,
        jwks: { inline: jwks(key) },
        cache: cache as { maxEntries: number },
      });
    expect(make({ maxEntries: 0 })).toThrow(/`cache\.maxEntries`/);
    expect(make({ ttlSeconds: -1 })).toThrow(/`cache\.ttlSeconds`/);
  });

  it('empties the basicAuth success cache when the htpasswd changes', async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const path = dir.file('htpasswd');
    await writeFile(path, `alice:${sha('old-password')}\n`);
    const server = await serve(framework.lib.basicAuth({ htpasswd: { file: path }, logger: quiet }));
    const login = (password: string) =>
      request(server.url).get('/').set('Authorization', basic('alice', password));
    expect((await login('old-password')).status).toBe(200);
    expect((await login('old-password')).status).toBe(200); // cached
    await replaceByRename(path, `alice:${sha('new-password')}\n`);
    expect(await eventually(async () => (await login('old-password')).status === 401)).toBe(true);
    expect((await login('new-password')).status).toBe(200);
  });

  it('never caches a failed Basic check', async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const path = dir.file('htpasswd');
    await writeFile(path, `bob:${sha('first')}\n`);
    const server = await serve(framework.lib.basicAuth({ htpasswd: { file: path }, logger: quiet }));
    const login = () => request(server.url).get('/').set('Authorization', basic('bob', 'second'));
    expect((await login()).status).toBe(401);
    await replaceByRename(path, `bob:${sha('second')}\n`);
    expect(await eventually(async () => (await login()).status === 200)).toBe(true);
  });

  it('remembers a Basic credential by its exact spelling: another spelling of it is decoded and refused', async () => {
    // The success cache is keyed by the encoded credential and skips the decode on a hit; a
    // non-canonical base64 of the same user and password must still meet the decode's refusal.
    const server = await serve(
      framework.lib.basicAuth({ htpasswd: `ali:${sha('sesame')}\n`, allowWeakHashes: true, logger: quiet }),
    );
    const canonical = Buffer.from('ali:sesame').toString('base64');
    expect(canonical).toBe('YWxpOnNlc2FtZQ==');
    const noncanonical = 'YWxpOnNlc2FtZR=='; // the same bytes: the last symbol's unused bits differ
    expect(Buffer.from(noncanonical, 'base64').toString()).toBe('ali:sesame');
    const login = (encoded: string) => request(server.url).get('/').set('Authorization', `Basic ${encoded}`);
    for (let i = 0; i < 2; i++) {
      const res = await login(canonical);
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth).toMatchObject({ subject: 'ali', method: 'basic' });
    }
    expect((await login(noncanonical)).status).toBe(401);
    expect((await login(canonical)).status).toBe(200);
  });

  it('applies an API key revocation to the very next request', async () => {
    const keys = framework.lib.apiKeyAuth({ keys: [{ name: 'ci', key: 'ci-key-0123456789' }] });
    const server = await serve(keys);
    const call = () => request(server.url).get('/').set('Authorization', 'Bearer ci-key-0123456789');
    expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(200);
    expect(await keys.revoke('ci')).toBe(true);
    expect((await call()).status).toBe(401);
  });
});

describe('the verified-token cache', () => {
  it('keeps a copy of each token, not the padded header it was sliced from (found in review)', () => {
    // `Bearer` may be followed by any run of spaces: a client pads the header to ~15 KB, and an
    // entry holding a slice of it would keep all of it alive for the entry's life.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const cache = new VerifiedTokens({ maxEntries: 10_000, ttlSeconds: 300 });
    const provider = { clockSkewSeconds: 0, holdsKey: () => true } as unknown as Provider;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 2000; i++) {
      // Built char by char into one flat string, as a header arrives from the parser.
      const header =
        `Bearer ${' '.repeat(15_000)}eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ${i}In0.${'s'.repeat(342)}${i}`
          .split('')
          .join('');
      const token = header.slice(header.lastIndexOf(' ') + 1);
      cache.remember(token, { sub: String(i) }, [], provider, {} as VerifyKey);
    }
    gc();
    const perEntry = (process.memoryUsage().heapUsed - before) / 2000;
    expect(perEntry).toBeLessThan(4_000); // a slice kept ~16 KB per entry
  });
});
