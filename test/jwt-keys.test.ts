import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JwtAuthOptions } from '../src/index.js';
import { replaceByRename, type TempDir, tempDir } from './support/files.js';
import type { Echo } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { JwksServer } from './support/jwks-server.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { freePort } from './support/loopback.js';
import { eventually as pollUntil, recorder, sleep } from './support/wait.js';

// Where a provider's keys come from (remote URL, file, inline, OIDC discovery), how they are
// refreshed, cached and kept when the source is down, several providers, and start-up errors.

const all = await frameworks();

let rsa: TestKey;
let rsa2: TestKey;
let rsa3: TestKey;
let ec: TestKey;
let ecStranger: TestKey;
let forger: TestKey; // same kid as `rsa`, another key
let issuerA: TestKey; // two issuers publishing the same kid
let issuerB: TestKey;

beforeAll(async () => {
  [rsa, rsa2, rsa3, ec, ecStranger, issuerA, issuerB] = await Promise.all([
    makeKey('RS256'),
    makeKey('RS256'),
    makeKey('RS256'),
    makeKey('ES256'),
    makeKey('ES256'),
    makeKey('RS256', 'shared-kid'),
    makeKey('RS256', 'shared-kid'),
  ]);
  forger = await makeKey('RS256', rsa.kid);
});

/** Polls with this file's slower defaults: key sources reload on timers and file events. */
const eventually = (
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; stepMs?: number } = {},
) => pollUntil(check, { timeoutMs: 10_000, stepMs: 250, ...options });

function get(url: string, token?: string) {
  const req = request(url).get('/');
  if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
  return req;
}

/** Polls until `token` gets `status` (bounded); the last status seen. */
async function statusEventually(
  url: string,
  token: string,
  status: number,
  timing?: { timeoutMs?: number; stepMs?: number },
): Promise<number> {
  let last = 0;
  await eventually(async () => {
    last = (await get(url, token)).status;
    return last === status;
  }, timing);
  return last;
}

const FILE_POLL = { timeoutMs: 5000, stepMs: 50 };

describe.each(all)('jwtAuth keys on $name', (framework) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A middleware closed after the test; warnings go to a recorder unless one is given. */
  const middleware = (options: JwtAuthOptions) => {
    const made = framework.lib.jwtAuth({ logger: recorder(), ...options });
    cleanups.push(() => made.close());
    return made;
  };
  /** An app running `options`' middleware, closed after the test. */
  const app = async (options: JwtAuthOptions) => {
    const server = await framework.serve([middleware(options)]);
    cleanups.push(() => server.close());
    return server.url;
  };
  const jwksServer = async (document: unknown, port?: number) => {
    const server = new JwksServer();
    server.document = document;
    await server.start(port);
    cleanups.push(() => server.stop());
    return server;
  };
  const remote = (url: string, extra: Partial<JwtAuthOptions> = {}): JwtAuthOptions => ({
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks: { url },
    ...extra,
  });

  describe('remote JWKS', () => {
    it('accepts a key added after start-up without a restart', async () => {
      const server = await jwksServer(jwks(rsa));
      const url = await app(remote(server.url));
      expect((await get(url, await sign(rsa))).status).toBe(200);
      expect(server.jwksFetches).toBe(1);

      server.document = jwks(rsa, rsa2);
      const rotated = await get(url, await sign(rsa2, { sub: 'bob' }));
      expect(rotated.status).toBe(200);
      expect((rotated.body as Echo).auth?.subject).toBe('bob');
      // The initial fetch does not start the cool-down: the unknown kid refetched at once.
      expect(server.jwksFetches).toBe(2);

      // Known kids never fetch.
      expect((await get(url, await sign(rsa))).status).toBe(200);
      expect((await get(url, await sign(rsa2))).status).toBe(200);
      expect(server.jwksFetches).toBe(2);

      // Then 100 tokens with random kids, all at once: at most one more fetch (here none: the
      // rotation above started the cool-down).
      const tokens = await Promise.all(
        Array.from({ length: 100 }, (_, i) => sign(i % 2 === 0 ? rsa : rsa2, {}, { kid: randomUUID() })),
      );
      const responses = await Promise.all(tokens.map((token) => get(url, token)));
      expect(responses.every((res) => res.status === 401 && res.body.error === 'invalid_token')).toBe(true);
      expect(server.jwksFetches).toBeLessThanOrEqual(3);
      expect((await get(url, await sign(rsa2))).status).toBe(200);
    });

    it('answers a burst of 100 unknown kids with at most one extra fetch', async () => {
      const server = await jwksServer(jwks(rsa, ec));
      const url = await app(remote(server.url));
      expect((await get(url, await sign(rsa))).status).toBe(200);
      const before = server.jwksFetches;

      const signers = [rsa, ec, rsa2];
      const tokens = await Promise.all(
        Array.from({ length: 100 }, (_, i) => sign(signers[i % signers.length]!, {}, { kid: randomUUID() })),
      );
      const responses = await Promise.all(tokens.map((token) => get(url, token)));
      expect(responses.map((res) => res.status)).toEqual(Array(100).fill(401));
      expect(new Set(responses.map((res) => res.body.error))).toEqual(new Set(['invalid_token']));
      // No kid refetch had happened yet, so the burst is allowed exactly one, shared by all.
      expect(server.jwksFetches - before).toBeLessThanOrEqual(1);
      expect(server.jwksFetches - before).toBe(1);

      // Inside the cool-down another burst costs nothing, and good tokens still pass.
      const again = await Promise.all(tokens.slice(0, 20).map((token) => get(url, token)));
      expect(again.every((res) => res.status === 401)).toBe(true);
      expect(server.jwksFetches - before).toBe(1);
      expect((await get(url, await sign(ec))).status).toBe(200);
    });

    it('refetches for an unknown kid at most once per cool-down, which is configurable', async () => {
      const server = await jwksServer(jwks(rsa));
      const url = await app(remote(server.url)); // default cool-down: 30 s
      expect((await get(url, await sign(rsa))).status).toBe(200);
      server.document = jwks(rsa, rsa2);
      expect((await get(url, await sign(rsa2))).status).toBe(200);
      expect(server.jwksFetches).toBe(2);

      // A second rotation inside the cool-down is not fetched for.
      server.document = jwks(rsa, rsa2, rsa3);
      const blocked = await get(url, await sign(rsa3));
      expect(blocked.status).toBe(401);
      expect(blocked.body.error).toBe('invalid_token');
      expect(server.jwksFetches).toBe(2);

      // With a short cool-down the same sequence gets through after it.
      const fast = await jwksServer(jwks(rsa));
      const fastUrl = await app(remote(fast.url, { jwks: { url: fast.url, cooldownSeconds: 0.1 } }));
      expect((await get(fastUrl, await sign(rsa))).status).toBe(200);
      fast.document = jwks(rsa, rsa2);
      expect((await get(fastUrl, await sign(rsa2))).status).toBe(200);
      fast.document = jwks(rsa, rsa2, rsa3);
      expect(await statusEventually(fastUrl, await sign(rsa3), 200, FILE_POLL)).toBe(200);
    });

    it('shares one fetch between concurrent first requests', async () => {
      const server = await jwksServer(jwks(rsa));
      server.delayMs = 200; // all 20 requests arrive while the first fetch is in flight
      const url = await app(remote(server.url));
      const token = await sign(rsa);
      const responses = await Promise.all(Array.from({ length: 20 }, () => get(url, token)));
      expect(responses.map((res) => res.status)).toEqual(Array(20).fill(200));
      expect(server.jwksFetches).toBe(1);
    });

    it('keeps the cached keys when the source goes down', async () => {
      const server = await jwksServer(jwks(rsa));
      const logger = recorder();
      const url = await app(remote(server.url, { logger }));
      const token = await sign(rsa);
      expect((await get(url, token)).status).toBe(200);
      await server.stop();

      expect((await get(url, token)).status).toBe(200);
      // An unknown kid tries a refetch, which fails: still a 401 (keys are cached), not a 503.
      const unknown = await get(url, await sign(rsa2));
      expect(unknown.status).toBe(401);
      expect(unknown.body.error).toBe('invalid_token');
      expect(logger.messages.join('\n')).toContain('keeping the last good keys');
      expect((await get(url, token)).status).toBe(200);
    });

    it('answers 503 with Retry-After while the source has never answered, then recovers', async () => {
      const port = await freePort();
      const logger = recorder();
      const url = await app(remote(`http://127.0.0.1:${port}/jwks.json`, { logger }));
      const token = await sign(rsa);

      const down = await get(url, token);
      expect(down.status).toBe(503);
      expect(down.body.error).toBe('temporarily_unavailable');
      expect(down.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(logger.messages.join('\n')).toContain('no keys yet');
      expect(JSON.stringify(down.body)).not.toContain(String(port));

      const server = await jwksServer(jwks(rsa), port);
      expect(await statusEventually(url, token, 200)).toBe(200);
      expect(server.jwksFetches).toBeGreaterThanOrEqual(1);
    });

    it('gives up on a hanging fetch after timeoutMs with a 503', async () => {
      const server = await jwksServer(jwks(rsa));
      server.delayMs = 1500;
      const logger = recorder();
      const url = await app(remote(server.url, { jwks: { url: server.url, timeoutMs: 300 }, logger }));
      const res = await get(url, await sign(rsa));
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(logger.messages.join('\n')).toContain('timed out after 300 ms');
    });

    // The refresh a fetch schedules is the observable effect of Cache-Control; watching the
    // delay handed to setTimeout checks it without waiting minutes (and without timing anything).
    it.each([
      { cacheControl: undefined, refreshMs: 600_000, unclamped: undefined },
      { cacheControl: 'public, max-age=123', refreshMs: 123_000, unclamped: undefined },
      { cacheControl: 'max-age=1', refreshMs: 60_000, unclamped: 1000 },
      { cacheControl: 'max-age=0, must-revalidate', refreshMs: 60_000, unclamped: 0 },
      { cacheControl: 'no-store', refreshMs: 60_000, unclamped: undefined },
      { cacheControl: 'max-age=31536000', refreshMs: 86_400_000, unclamped: 31_536_000_000 },
      { cacheControl: 'max-age=soon', refreshMs: 600_000, unclamped: undefined },
    ])(
      'schedules the next refresh from Cache-Control $cacheControl within bounds',
      async ({ cacheControl, refreshMs, unclamped }) => {
        const server = await jwksServer(jwks(rsa));
        server.cacheControl = cacheControl;
        const spy = vi.spyOn(globalThis, 'setTimeout');
        let delays: unknown[];
        try {
          const url = await app(remote(server.url));
          expect((await get(url, await sign(rsa))).status).toBe(200);
          delays = spy.mock.calls.map((call) => call[1]);
        } finally {
          spy.mockRestore();
        }
        expect(server.jwksFetches).toBe(1);
        expect(delays).toContain(refreshMs);
        if (unclamped !== undefined) expect(delays).not.toContain(unclamped);
      },
    );
  });

  describe('JWKS file', () => {
    let dir: TempDir;
    beforeAll(async () => {
      dir = await tempDir();
    });
    afterAll(async () => {
      await dir.remove();
    });

    it('follows rewrites in place and replacements by rename, keeping the last good keys', async () => {
      const path = dir.file('reload.json');
      await writeFile(path, JSON.stringify(jwks(rsa)));
      const logger = recorder();
      const url = await app({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { file: path }, logger });
      const first = await sign(rsa);
      const second = await sign(rsa2);
      const third = await sign(ec);
      expect((await get(url, first)).status).toBe(200);
      const early = await get(url, second);
      expect(early.status).toBe(401);
      expect(early.body.error).toBe('invalid_token');

      await writeFile(path, JSON.stringify(jwks(rsa, rsa2)));
      expect(await statusEventually(url, second, 200, FILE_POLL)).toBe(200);

      await replaceByRename(path, JSON.stringify(jwks(rsa, rsa2, ec)));
      expect(await statusEventually(url, third, 200, FILE_POLL)).toBe(200);

      await writeFile(path, '{"keys": [');
      const noticed = () =>
        logger.messages.some((message) => message.includes('keeping the previous version'));
      expect(await eventually(noticed, FILE_POLL)).toBe(true);
      for (const token of [first, second, third]) expect((await get(url, token)).status).toBe(200);

      // A later good version is taken again.
      await replaceByRename(path, JSON.stringify(jwks(rsa3)));
      expect(await statusEventually(url, first, 401, FILE_POLL)).toBe(401);
      expect((await get(url, await sign(rsa3))).status).toBe(200);
    });

    it('refuses to start when the file is missing or not a JWKS', async () => {
      const missing = dir.file('missing.json');
      expect(() => framework.lib.jwtAuth({ issuer: ISSUER, jwks: { file: missing } })).toThrow(
        framework.lib.ConfigError,
      );
      expect(() => framework.lib.jwtAuth({ issuer: ISSUER, jwks: { file: missing } })).toThrow(
        /`jwks\.file`/,
      );

      const broken = dir.file('broken.json');
      await writeFile(broken, 'not json');
      expect(() => framework.lib.jwtAuth({ issuer: ISSUER, jwks: { file: broken } })).toThrow(/`jwks\.file`/);
      await writeFile(broken, '{"kty": "RSA"}');
      expect(() => framework.lib.jwtAuth({ issuer: ISSUER, jwks: { file: broken } })).toThrow(/`jwks\.file`/);
    });

    it('releases its file watcher when a later option is refused', async () => {
      const path = dir.file('leak.json');
      await writeFile(path, JSON.stringify(jwks(rsa)));
      const refused = recorder();
      const bad = { issuer: ISSUER, jwks: { file: path }, mode: 'lenient', logger: refused };
      expect(() => framework.lib.jwtAuth(bad as unknown as JwtAuthOptions)).toThrow(/`mode`/);

      // A live middleware on the same file shows when the bad write has been seen.
      const control = recorder();
      middleware({ issuer: ISSUER, jwks: { file: path }, logger: control });
      await writeFile(path, 'not json');
      expect(await eventually(() => control.messages.length > 0, FILE_POLL)).toBe(true);
      await sleep(150);
      expect(refused.messages).toEqual([]);
    });
  });

  describe('inline JWKS', () => {
    it.each([
      { form: 'an object', inline: () => jwks(rsa, ec) },
      { form: 'JSON text', inline: () => JSON.stringify(jwks(rsa, ec)) },
    ])('accepts keys given as $form', async ({ inline }) => {
      const url = await app({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: inline() } });
      expect((await get(url, await sign(rsa))).status).toBe(200);
      expect((await get(url, await sign(ec))).status).toBe(200);
      const forged = await get(url, await sign(forger));
      expect(forged.status).toBe(401);
      expect(forged.body.error).toBe('invalid_token');
      expect((await get(url, await sign(rsa2))).status).toBe(401);
    });

    it('refuses inline text that is not a JWKS', () => {
      expect(() => framework.lib.jwtAuth({ issuer: ISSUER, jwks: { inline: '{"keys": ' } })).toThrow(
        /`jwks\.inline`/,
      );
      expect(() =>
        framework.lib.jwtAuth({ issuer: ISSUER, jwks: { inline: { nokeys: [] } as never } }),
      ).toThrow(framework.lib.ConfigError);
    });
  });

  describe('OIDC discovery', () => {
    it('finds the JWKS through /.well-known/openid-configuration of the issuer', async () => {
      const server = await jwksServer(jwks(rsa));
      const url = await app({ issuer: server.origin, audiences: [AUDIENCE] });
      const res = await get(url, await sign(rsa, {}, { issuer: server.origin }));
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth?.jwt?.iss).toBe(server.origin);
      const discovery = server.requests.indexOf('/.well-known/openid-configuration');
      expect(discovery).toBeGreaterThanOrEqual(0);
      expect(server.requests.indexOf('/jwks.json')).toBeGreaterThan(discovery);
      expect(server.jwksFetches).toBe(1);

      // Another issuer's token is refused without asking anyone.
      const before = server.requests.length;
      expect((await get(url, await sign(rsa))).status).toBe(401);
      expect(server.requests.length).toBe(before);
    });

    it('refuses keys from a discovery document that names another issuer', async () => {
      const server = await jwksServer(jwks(rsa));
      const issuer = `${server.origin}/`; // the document says server.origin, without the slash
      const logger = recorder();
      const url = await app({ issuer, audiences: [AUDIENCE], logger });
      const res = await get(url, await sign(rsa, {}, { issuer }));
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(server.requests).toContain('/.well-known/openid-configuration');
      expect(server.jwksFetches).toBe(0);
      expect(logger.messages.join('\n')).toContain('does not match');
    });
  });

  describe('several providers', () => {
    it('keeps two issuers apart when they publish the same kid', async () => {
      const a = await jwksServer(jwks(issuerA));
      const b = await jwksServer(jwks(issuerB));
      const url = await app({
        providers: [
          { issuer: a.origin, audiences: [AUDIENCE], jwks: { url: a.url } },
          { issuer: b.origin, audiences: [AUDIENCE], jwks: { url: b.url } },
        ],
      });
      const fromA = await get(url, await sign(issuerA, { sub: 'from-a' }, { issuer: a.origin }));
      expect(fromA.status).toBe(200);
      expect((fromA.body as Echo).auth?.jwt).toMatchObject({ sub: 'from-a', iss: a.origin });
      const fromB = await get(url, await sign(issuerB, { sub: 'from-b' }, { issuer: b.origin }));
      expect(fromB.status).toBe(200);
      expect((fromB.body as Echo).auth?.jwt).toMatchObject({ sub: 'from-b', iss: b.origin });
      const fetched = a.requests.length + b.requests.length;

      // Claiming A but signed with B's key (same kid): refused.
      const crossed = await get(url, await sign(issuerB, {}, { issuer: a.origin }));
      expect(crossed.status).toBe(401);
      expect(crossed.body.error).toBe('invalid_token');
      expect((await get(url, await sign(issuerA, {}, { issuer: b.origin }))).status).toBe(401);

      // An unknown issuer is refused before any key is looked up or fetched.
      const stranger = await get(url, await sign(issuerA, {}, { issuer: 'https://other.test', kid: 'new' }));
      expect(stranger.status).toBe(401);
      expect(stranger.body.error).toBe('invalid_token');
      expect(a.requests.length + b.requests.length).toBe(fetched);
    });

    it('tries the next provider of the same issuer when the first one holds no fitting key', async () => {
      // A migration: the issuer's old keys in a file, its new keys at a URL, under one iss.
      const server = await jwksServer(jwks(rsa2));
      const url = await app({
        providers: [
          { issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(rsa) } },
          { issuer: ISSUER, audiences: [AUDIENCE], jwks: { url: server.url } },
        ],
      });
      expect((await get(url, await sign(rsa, { sub: 'old' }))).status).toBe(200);
      const kidless = await get(url, await sign(rsa2, { sub: 'new' }, { kid: null }));
      expect(kidless.status).toBe(200);
      expect((kidless.body as Echo).auth?.subject).toBe('new');
      const forged = await get(url, await sign(forger, {}));
      expect(forged.status).toBe(401);
      expect(forged.body.error).toBe('invalid_token');
    });

    it('verifies a token without kid against the keys that fit its algorithm', async () => {
      const server = await jwksServer(jwks(rsa, ec));
      const url = await app(remote(server.url));
      const es = await get(url, await sign(ec, { sub: 'no-kid' }, { kid: null }));
      expect(es.status).toBe(200);
      expect((es.body as Echo).auth?.subject).toBe('no-kid');
      expect((await get(url, await sign(rsa, {}, { kid: null }))).status).toBe(200);

      // A kid-less token by a key the provider lacks: refused, and nothing to refetch for.
      const before = server.jwksFetches;
      const unknown = await get(url, await sign(ecStranger, {}, { kid: null }));
      expect(unknown.status).toBe(401);
      expect(unknown.body.error).toBe('invalid_token');
      expect(server.jwksFetches).toBe(before);
    });
  });

  describe('start-up errors', () => {
    const inline = () => ({ inline: jwks(rsa) });
    const secret32 = 'a-shared-secret-of-32-bytes-long';
    const cases: { name: string; field: string; options: () => Record<string, unknown> }[] = [
      { name: 'no issuer', field: 'issuer', options: () => ({ jwks: inline() }) },
      { name: 'an empty issuer', field: 'issuer', options: () => ({ issuer: '', jwks: inline() }) },
      {
        name: 'a provider without issuer',
        field: 'providers[1].issuer',
        options: () => ({ providers: [{ issuer: ISSUER, jwks: inline() }, { jwks: inline() }] }),
      },
      {
        name: 'a secret together with jwks',
        field: 'secret',
        options: () => ({ issuer: ISSUER, algorithms: ['HS256'], secret: secret32, jwks: inline() }),
      },
      {
        name: 'HS256 without a secret',
        field: 'algorithms',
        options: () => ({ issuer: ISSUER, algorithms: ['RS256', 'HS256'], jwks: inline() }),
      },
      {
        name: 'a 31-byte secret for HS256',
        field: 'secret',
        options: () => ({ issuer: ISSUER, algorithms: ['HS256'], secret: secret32.slice(1) }),
      },
      {
        name: 'alg none',
        field: 'algorithms',
        options: () => ({ issuer: ISSUER, algorithms: ['none'], jwks: inline() }),
      },
      {
        name: 'alg none next to RS256',
        field: 'algorithms',
        options: () => ({ issuer: ISSUER, algorithms: ['RS256', 'none'], jwks: inline() }),
      },
      {
        name: 'an unknown mode',
        field: 'mode',
        options: () => ({ issuer: ISSUER, jwks: inline(), mode: 'lax' }),
      },
      {
        name: 'a header location without a name',
        field: 'location.header.name',
        options: () => ({ issuer: ISSUER, jwks: inline(), location: { header: { prefix: 'Bearer ' } } }),
      },
      {
        name: 'a location of an unknown kind',
        field: 'location.body',
        options: () => ({ issuer: ISSUER, jwks: inline(), location: { body: { name: 'token' } } }),
      },
      {
        name: 'two locations at once',
        field: 'location',
        options: () => ({
          issuer: ISSUER,
          jwks: inline(),
          location: { header: { name: 'x-token' }, cookie: { name: 'token' } },
        }),
      },
      {
        name: 'a jwks url that is not a URL',
        field: 'jwks.url',
        options: () => ({ issuer: ISSUER, jwks: { url: 'not a url' } }),
      },
      {
        name: 'a jwks timeout beyond a minute',
        field: 'jwks.timeoutMs',
        options: () => ({ issuer: ISSUER, jwks: { url: 'https://id.example.com/jwks', timeoutMs: 3e9 } }),
      },
      {
        name: 'a cool-down beyond an hour',
        field: 'jwks.cooldownSeconds',
        options: () => ({
          issuer: ISSUER,
          jwks: { url: 'https://id.example.com/jwks', cooldownSeconds: 1e7 },
        }),
      },
      {
        name: 'no jwks with a plain-http issuer (no discovery)',
        field: 'jwks',
        options: () => ({ issuer: 'http://id.example.com' }),
      },
    ];

    it.each(cases)('refuses $name with a ConfigError naming `$field`', ({ field, options }) => {
      let error: unknown;
      try {
        const made = framework.lib.jwtAuth(options() as JwtAuthOptions);
        cleanups.push(() => made.close());
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      const message = (error as Error).message;
      expect(message).toContain(`\`${field}\``);
      expect(message).not.toContain(secret32.slice(1));
    });
  });

  describe('close()', () => {
    it('resolves for every kind of key source', async () => {
      const server = await jwksServer(jwks(rsa));
      const dir = await tempDir();
      cleanups.push(() => dir.remove());
      const path = dir.file('jwks.json');
      await writeFile(path, JSON.stringify(jwks(rsa)));
      const made = [
        framework.lib.jwtAuth({ issuer: ISSUER, jwks: { inline: jwks(rsa) } }),
        framework.lib.jwtAuth({ issuer: ISSUER, jwks: { file: path } }),
        framework.lib.jwtAuth({ issuer: ISSUER, jwks: { url: server.url }, logger: recorder() }),
        framework.lib.jwtAuth({ issuer: server.origin, logger: recorder() }),
      ];
      for (const middleware of made) {
        expect(typeof middleware.close).toBe('function');
        await expect(middleware.close()).resolves.toBeUndefined();
      }
    });

    it('stops a remote source from fetching again', async () => {
      const server = await jwksServer(jwks(rsa));
      const closing = middleware(remote(server.url));
      const served = await framework.serve([closing]);
      cleanups.push(() => served.close());
      expect((await get(served.url, await sign(rsa))).status).toBe(200);
      expect(server.jwksFetches).toBe(1);

      await expect(closing.close()).resolves.toBeUndefined();
      // An unknown kid would refetch on a live source; a closed one stays put.
      server.document = jwks(rsa, rsa2);
      expect((await get(served.url, await sign(rsa2))).status).toBe(401);
      expect(server.jwksFetches).toBe(1);
    });

    it('cancels the retry of a source that never answered', async () => {
      const port = await freePort();
      const closing = middleware(remote(`http://127.0.0.1:${port}/jwks.json`));
      const served = await framework.serve([closing]);
      cleanups.push(() => served.close());
      const token = await sign(rsa);
      expect((await get(served.url, token)).status).toBe(503); // the first fetch has failed

      await closing.close();
      const server = await jwksServer(jwks(rsa), port);
      await sleep(1200); // past the first retry (1 s) a live source would have made
      expect((await get(served.url, token)).status).toBe(503);
      expect(server.requests).toEqual([]);
    });
  });
});
