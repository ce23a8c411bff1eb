import { readFile, writeFile } from 'node:fs/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthProvider, AuthResult, CustomAuthRequest } from '../src/index.js';
import { tempDir } from './support/files.js';
import type { Echo, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { MODES_TABLE } from './support/modes-table.js';
import { mountAt } from './support/mount.js';
import { headerLines, rawGet } from './support/raw-request.js';
import { anyAuthOf, resourcesOf } from './support/resources.js';

const all = await frameworks();

// Fixtures: a JWT key (and a look-alike key with the same kid, for forgeries), an API key and
// htpasswd users from test/fixtures (carol: apr1, password "pa:ss:word"; dave: {SHA}, "hunter2").
let key: TestKey;
let other: TestKey;
let valid: string;
let forged: string;
let htpasswd: string;

const API_KEY = 'ak_live_7f3c9a1e5b2d4c6e8f0a';
const BAD_API_KEY = 'ak_live_not-a-key-at-all';
const apiKeys = () => [{ name: 'ci-bot', key: API_KEY, scopes: ['deploy'], metadata: { team: 'infra' } }];

const DAVE_LINE = 'dave:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

const BASIC_CHALLENGE = 'Basic realm="Restricted", charset="UTF-8"';
const BEARER_CHALLENGE = 'Bearer realm="api"';
const API_KEY_CHALLENGE = 'ApiKey realm="api", header="x-api-key"';

beforeAll(async () => {
  key = await makeKey('RS256');
  other = await makeKey('RS256', key.kid);
  valid = await sign(key, { groups: ['admins'] }); // sub alice, scope "read write"
  forged = await sign(other);
  // Only the fast hashes: bcrypt would slow the run, DES needs allowWeakHashes.
  const vectors = await readFile(new URL('./fixtures/vectors.htpasswd', import.meta.url), 'utf8');
  htpasswd = `${vectors
    .split('\n')
    .filter((line) => line.startsWith('carol:') || line.startsWith('dave:'))
    .join('\n')}\n`;
});

const jwtOptions = (extra: Record<string, unknown> = {}) => ({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: jwks(key) },
  ...extra,
});

describe.each(all)('anyAuth on $name', (framework) => {
  const lib = framework.lib;
  const anyAuth = anyAuthOf(framework);
  const r = resourcesOf(framework);
  afterAll(() => r.closeAll());

  // apiKey (x-api-key) first, then jwt (Authorization: Bearer), then basic (Authorization: Basic).
  let threeSchemes: TestServer;
  // agents-gateway "mode: composite": an API key or a JWT, both as Authorization: Bearer.
  let composite: TestServer;
  beforeAll(async () => {
    threeSchemes = await r.serve([
      r.track(
        anyAuth(
          lib.apiKeyAuth({ keys: apiKeys(), location: { header: { name: 'x-api-key' } } }),
          lib.jwtAuth(jwtOptions()),
          lib.basicAuth({ htpasswd }),
        ),
      ),
    ]);
    composite = await r.serve([
      r.track(anyAuth(lib.apiKeyAuth({ keys: apiKeys() }), lib.jwtAuth(jwtOptions()))),
    ]);
  });

  describe('the first that authenticates wins', () => {
    it('an API key before a valid JWT: the key wins, Authorization stays for the app', async () => {
      const res = await request(threeSchemes.url)
        .get('/orders')
        .set('X-Api-Key', API_KEY)
        .set('Authorization', `Bearer ${valid}`);
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth).toEqual({
        subject: 'ci-bot',
        scopes: ['deploy'],
        method: 'apiKey',
        apiKey: { name: 'ci-bot', scopes: ['deploy'], metadata: { team: 'infra' } },
      });
      expect(echo.headers['x-api-key']).toBeUndefined();
      expect(echo.rawHeaders.map((h) => h.toLowerCase())).not.toContain('x-api-key');
      expect(echo.headers.authorization).toBe(`Bearer ${valid}`);
    });

    it('a bad API key and a valid JWT: the JWT wins, only Authorization is stripped', async () => {
      const res = await request(threeSchemes.url)
        .get('/orders')
        .set('X-Api-Key', BAD_API_KEY)
        .set('Authorization', `Bearer ${valid}`);
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth).toMatchObject({ subject: 'alice', method: 'jwt', scopes: ['read', 'write'] });
      expect(echo.auth?.jwt).toMatchObject({ sub: 'alice', groups: ['admins'] });
      expect(echo.auth?.apiKey).toBeUndefined();
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.rawHeaders.map((h) => h.toLowerCase())).not.toContain('authorization');
      expect(echo.headers['x-api-key']).toBe(BAD_API_KEY);
    });

    it('order decides when two credentials are valid: jwt listed first wins over the API key', async () => {
      const server = await r.serve([
        r.track(
          anyAuth(
            lib.jwtAuth(jwtOptions()),
            lib.apiKeyAuth({ keys: apiKeys(), location: { header: { name: 'x-api-key' } } }),
          ),
        ),
      ]);
      const res = await request(server.url)
        .get('/')
        .set('X-Api-Key', API_KEY)
        .set('Authorization', `Bearer ${valid}`);
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth?.method).toBe('jwt');
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.headers['x-api-key']).toBe(API_KEY);
    });

    it('a valid Basic credential wins when the others are absent', async () => {
      const res = await request(threeSchemes.url).get('/').set('Authorization', basic('carol', 'pa:ss:word'));
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth).toEqual({
        subject: 'carol',
        scopes: [],
        method: 'basic',
        basicAuth: { username: 'carol' },
      });
      expect(echo.headers.authorization).toBeUndefined();
    });

    it("identity: method and scopes are the winner's alone, never a union with a loser's", async () => {
      const scoped = await sign(key, { scope: 'orders:read orders:write' });
      const keyWins = await request(threeSchemes.url)
        .get('/')
        .set('X-Api-Key', API_KEY)
        .set('Authorization', `Bearer ${scoped}`);
      expect(keyWins.body.auth.method).toBe('apiKey');
      expect(keyWins.body.auth.scopes).toEqual(['deploy']);
      expect(keyWins.body.auth.jwt).toBeUndefined();

      const jwtWins = await request(threeSchemes.url)
        .get('/')
        .set('X-Api-Key', BAD_API_KEY)
        .set('Authorization', `Bearer ${scoped}`);
      expect(jwtWins.body.auth.method).toBe('jwt');
      expect(jwtWins.body.auth.scopes).toEqual(['orders:read', 'orders:write']);
      expect(jwtWins.body.auth.apiKey).toBeUndefined();
    });

    it('a customAuth member that wins sets its own method; an earlier winner means it is never asked', async () => {
      const calls: string[] = [];
      const provider: AuthProvider = {
        authenticate(token) {
          calls.push(token);
          return token === 'sess-42'
            ? lib.AuthResult.ok({ subject: 'u42', scopes: ['s'], method: 'session' })
            : lib.AuthResult.denied('unknown session');
        },
      };
      const server = await r.serve([
        r.track(
          anyAuth(
            lib.apiKeyAuth({ keys: apiKeys(), location: { header: { name: 'x-api-key' } } }),
            lib.customAuth(provider, { location: { cookie: { name: 'sid' } } }),
          ),
        ),
      ]);
      const keyWins = await request(server.url)
        .get('/')
        .set('X-Api-Key', API_KEY)
        .set('Cookie', 'sid=sess-42');
      expect(keyWins.body.auth.method).toBe('apiKey');
      expect(keyWins.body.headers.cookie).toBe('sid=sess-42');
      expect(calls).toEqual([]);

      const sessionWins = await request(server.url)
        .get('/')
        .set('X-Api-Key', BAD_API_KEY)
        .set('Cookie', 'theme=dark; sid=sess-42');
      expect(sessionWins.status).toBe(200);
      expect(sessionWins.body.auth).toEqual({ subject: 'u42', scopes: ['s'], method: 'session' });
      expect(sessionWins.body.headers.cookie).toBe('theme=dark');
      expect(sessionWins.body.headers['x-api-key']).toBe(BAD_API_KEY);
      expect(calls).toEqual(['sess-42']);
    });
  });

  describe('composite: anyAuth(apiKeyAuth({ keys }), jwtAuth(...)) on Authorization: Bearer', () => {
    it('an API key passes as apiKey', async () => {
      const res = await request(composite.url).get('/v1/agents').set('Authorization', `Bearer ${API_KEY}`);
      expect(res.status).toBe(200);
      expect(res.body.auth).toMatchObject({ subject: 'ci-bot', method: 'apiKey', scopes: ['deploy'] });
      expect(res.body.headers.authorization).toBeUndefined();
    });

    it('a JWT passes as jwt', async () => {
      const res = await request(composite.url).get('/v1/agents').set('Authorization', `Bearer ${valid}`);
      expect(res.status).toBe(200);
      expect(res.body.auth).toMatchObject({ subject: 'alice', method: 'jwt', scopes: ['read', 'write'] });
      expect(res.body.auth.apiKey).toBeUndefined();
      expect(res.body.headers.authorization).toBeUndefined();
    });

    it.each([
      ['garbage', 'not-a-key-nor-a-jwt'],
      ['a forged JWT', 'forged'],
    ])('%s gets 401 with a Bearer error challenge', async (_label, sent) => {
      const token = sent === 'forged' ? forged : sent;
      const res = await request(composite.url).get('/v1/agents').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.error).toMatch(/^invalid_(credentials|token)$/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
      expect(res.text).not.toContain(token);
    });

    it('nothing presented: the two identical Bearer challenges are sent once', async () => {
      const res = await rawGet(`${composite.url}/v1/agents`);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error).toBe('credentials_missing');
      expect(headerLines(res.rawHeaders, 'www-authenticate')).toEqual([BEARER_CHALLENGE]);
    });
  });

  describe('when none authenticates', () => {
    it('a wrong Basic password is refused as Basic refuses it', async () => {
      const res = await request(threeSchemes.url).get('/').set('Authorization', basic('carol', 'wrong'));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(BASIC_CHALLENGE);
      expect(res.body).toEqual({ error: 'invalid_credentials', error_description: expect.any(String) });
    });

    it('an invalid JWT is refused as jwtAuth refuses it', async () => {
      const res = await request(threeSchemes.url).get('/').set('Authorization', `Bearer ${forged}`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(
        /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/,
      );
      expect(res.body.error).toBe('invalid_token');
      expect(res.text).not.toContain(forged);
    });

    it('an unknown x-api-key is refused with the ApiKey challenge', async () => {
      const res = await request(threeSchemes.url).get('/').set('X-Api-Key', BAD_API_KEY);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_credentials');
      expect(res.headers['www-authenticate']).toMatch(/^ApiKey realm="api"/);
      expect(res.text).not.toContain(BAD_API_KEY);
    });

    it('nothing presented: 401 with one WWW-Authenticate value per scheme', async () => {
      const res = await rawGet(`${threeSchemes.url}/orders`);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({
        error: 'credentials_missing',
        error_description: expect.any(String),
      });
      const lines = headerLines(res.rawHeaders, 'www-authenticate');
      expect(lines).toHaveLength(3);
      const joined = lines.join(', ');
      for (const challenge of [API_KEY_CHALLENGE, BEARER_CHALLENGE, BASIC_CHALLENGE]) {
        expect(lines).toContain(challenge);
        expect(joined.split(challenge)).toHaveLength(2); // exactly once
      }
      // What a Node client sees: the lines folded into one comma-joined value, every one there.
      const folded = await request(threeSchemes.url).get('/orders');
      for (const challenge of [API_KEY_CHALLENGE, BEARER_CHALLENGE, BASIC_CHALLENGE]) {
        expect(String(folded.headers['www-authenticate'])).toContain(challenge);
      }
    });

    it('another scheme in Authorization counts as nothing for the schemes that do not read it', async () => {
      const res = await rawGet(`${composite.url}/`, { authorization: basic('carol', 'pa:ss:word') });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error).toBe('credentials_missing');
      expect(headerLines(res.rawHeaders, 'www-authenticate')).toEqual([BEARER_CHALLENGE]);
    });
  });

  describe("anyAuth's own options", () => {
    const modes = ['strict', 'optional', 'permissive'] as const;
    const servers: Record<string, TestServer> = {};
    beforeAll(async () => {
      for (const mode of modes) {
        // The members' own modes are not used: only anyAuth's (README, anyAuth).
        servers[mode] = await r.serve([
          r.track(
            anyAuth(
              lib.apiKeyAuth({
                keys: apiKeys(),
                location: { header: { name: 'x-api-key' } },
                mode: 'permissive',
              }),
              lib.jwtAuth(jwtOptions({ mode: 'permissive' })),
              { mode },
            ),
          ),
        ]);
      }
    });

    it.each([...MODES_TABLE] as const)(
      'mode $mode with $credential credential -> $status',
      async ({ mode, credential, status }) => {
        const req = request(servers[mode]!.url).get('/');
        if (credential === 'valid') req.set('Authorization', `Bearer ${valid}`);
        if (credential === 'invalid') req.set('X-Api-Key', BAD_API_KEY);
        const res = await req;
        expect(res.status).toBe(status);
        if (status === 401) {
          expect(res.body.error).toBe(credential === 'none' ? 'credentials_missing' : 'invalid_credentials');
          return;
        }
        const echo = res.body as Echo;
        if (credential === 'valid') {
          expect(echo.auth?.method).toBe('jwt');
          expect(echo.headers.authorization).toBeUndefined();
        } else {
          expect(echo.auth).toBeNull();
          if (credential === 'invalid') expect(echo.headers['x-api-key']).toBe(BAD_API_KEY);
        }
      },
    );

    it('publicPaths skip it, exactly', async () => {
      const server = await r.serve([
        r.track(
          anyAuth(lib.jwtAuth(jwtOptions()), lib.basicAuth({ htpasswd }), { publicPaths: ['/health'] }),
        ),
      ]);
      const open = await request(server.url).get('/health');
      expect(open.status).toBe(200);
      expect(open.body.auth).toBeNull();
      expect((await request(server.url).get('/health/x')).status).toBe(401);
      expect((await request(server.url).get('/other')).status).toBe(401);
    });

    it('delegateErrors hands the refusal to the app', async () => {
      const server = await r.serve(
        [r.track(anyAuth(lib.jwtAuth(jwtOptions()), lib.basicAuth({ htpasswd }), { delegateErrors: true }))],
        { errorHandler: true },
      );
      const res = await request(server.url).get('/');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ handledBy: 'app', code: 'credentials_missing' });
    });

    it('close() closes every member (a customAuth provider records it)', async () => {
      const closed: string[] = [];
      const closing = (name: string): AuthProvider => ({
        authenticate: () => lib.AuthResult.denied(),
        close: async () => {
          closed.push(name);
        },
      });
      const mw = anyAuth(
        lib.customAuth(closing('first')),
        lib.jwtAuth(jwtOptions()),
        lib.customAuth(closing('second')),
      );
      await expect(mw.close()).resolves.toBeUndefined();
      expect(closed.sort()).toEqual(['first', 'second']);
    });

    it('close() stops the htpasswd { file } watcher of a basicAuth member', async () => {
      const dir = await tempDir();
      try {
        const path = dir.file('htpasswd');
        await writeFile(path, `${htpasswd.split('\n').find((l) => l.startsWith('carol:'))}\n`);
        const mw = anyAuth(lib.basicAuth({ htpasswd: { file: path } }), lib.jwtAuth(jwtOptions()));
        const server = await r.serve([mw]);
        const as = (user: string, password: string) =>
          request(server.url).get('/').set('Authorization', basic(user, password));

        // Before close: a change to the file is picked up.
        expect((await as('dave', 'hunter2')).status).toBe(401);
        await writeFile(path, `${DAVE_LINE}\n`);
        await vi.waitFor(async () => expect((await as('dave', 'hunter2')).status).toBe(200), {
          timeout: 5_000,
          interval: 50,
        });

        await mw.close();
        // After close: the last version stays in force, and changes are no longer read.
        await writeFile(path, `${DAVE_LINE.replace('dave:', 'mallory:')}\n`);
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect((await as('dave', 'hunter2')).status).toBe(200);
        expect((await as('mallory', 'hunter2')).status).toBe(401);
      } finally {
        await dir.remove();
      }
    });
  });

  describe('configuration', () => {
    it('something that is not a portcullis middleware throws a ConfigError naming the argument', () => {
      const jwt = r.track(lib.jwtAuth(jwtOptions()));
      const plain = (_req: unknown, _res: unknown, next: () => void) => next();
      const attempt =
        (...args: unknown[]) =>
        () =>
          anyAuth(...args);
      expect(attempt(jwt, plain)).toThrow(lib.ConfigError);
      expect(attempt(jwt, plain)).toThrow(/anyAuth argument 2/);
      expect(attempt('jwt', jwt)).toThrow(/anyAuth argument 1/);
      expect(attempt(jwt, null, jwt)).toThrow(/anyAuth argument 2/);
      // anyAuth's own middleware is not a member either.
      const nested = r.track(anyAuth(jwt));
      expect(attempt(jwt, nested)).toThrow(/anyAuth argument 2/);
    });

    it('no member, or a bad option, is a ConfigError', () => {
      const jwt = r.track(lib.jwtAuth(jwtOptions()));
      expect(() => anyAuth()).toThrow(lib.ConfigError);
      expect(() => anyAuth({ mode: 'optional' })).toThrow(lib.ConfigError);
      expect(() => anyAuth(jwt, { mode: 'lenient' })).toThrow(/`mode`/);
      expect(() => anyAuth(jwt, { publicPaths: ['health'] })).toThrow(/`publicPaths\[0\]`/);
    });
  });
});

describe.each(all)('customAuth on $name', (framework) => {
  const lib = framework.lib;
  const r = resourcesOf(framework);
  afterAll(() => r.closeAll());

  /** customAuth with `provider`; the union of adapter modules is narrowed the same way as anyAuth. */
  const customAuth = (provider: AuthProvider, options: Record<string, unknown> = {}) =>
    r.track(lib.customAuth(provider, options));

  const SECRET = 'postgres://admin:hunter2@db.internal:5432/sessions';

  it('AuthResult.ok: 200 with { subject, scopes, method, claims }; the provider gets (token, request)', async () => {
    const received: { token: string; request: CustomAuthRequest }[] = [];
    const server = await r.serve([
      customAuth({
        async authenticate(token, req) {
          // Copied: the headers object is the live request's, and the credential is stripped after.
          received.push({ token, request: { ...req, headers: { ...req.headers } } });
          return lib.AuthResult.ok({
            subject: 'user-7',
            scopes: ['orders:read', 'orders:write'],
            method: 'session',
            claims: { tenant: 'acme', plan: 'pro' },
          });
        },
      }),
    ]);
    const res = await request(server.url)
      .post('/orders/9?expand=items&x=1')
      .set('Authorization', 'Bearer tok-abc.123')
      .set('X-Trace', 'trace-1')
      .send({});
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expect(echo.auth).toEqual({
      subject: 'user-7',
      scopes: ['orders:read', 'orders:write'],
      method: 'session',
      claims: { tenant: 'acme', plan: 'pro' },
    });
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers['x-trace']).toBe('trace-1');

    expect(received).toHaveLength(1);
    const [{ token, request: seen }] = received as [(typeof received)[0]];
    expect(token).toBe('tok-abc.123');
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe('/orders/9');
    expect(seen.url).toBe('/orders/9?expand=items&x=1');
    expect(seen.headers.authorization).toBe('Bearer tok-abc.123');
    expect(seen.headers['x-trace']).toBe('trace-1');
  });

  it('under a mount, the provider gets the full path and a url that agrees with it', async () => {
    // Express app.use('/api', mw) and koa-mount both leave a mount-relative req.url underneath.
    let seen: Pick<CustomAuthRequest, 'path' | 'url'> | undefined;
    const mw = customAuth({
      authenticate(_token, req) {
        seen = { path: req.path, url: req.url };
        return lib.AuthResult.ok({ subject: 'mounted' });
      },
    });
    const server = await r.serve([await mountAt(framework, '/api', mw)]);
    const res = await request(server.url).get('/api/orders?x=1').set('Authorization', 'Bearer t');
    expect(res.status).toBe(200);
    expect(res.body.auth.subject).toBe('mounted');
    expect(seen).toEqual({ path: '/api/orders', url: '/api/orders?x=1' });
  });

  it("method defaults to 'custom' and scopes to []", async () => {
    const server = await r.serve([
      customAuth({ authenticate: () => lib.AuthResult.ok({ subject: 'bare' }) }),
    ]);
    const res = await request(server.url).get('/').set('Authorization', 'Bearer anything');
    expect(res.status).toBe(200);
    expect(res.body.auth).toEqual({ subject: 'bare', scopes: [], method: 'custom' });

    const empty = await r.serve([customAuth({ authenticate: () => lib.AuthResult.ok() })]);
    const res2 = await request(empty.url).get('/').set('Authorization', 'Bearer anything');
    expect(res2.status).toBe(200);
    expect(res2.body.auth).toEqual({ scopes: [], method: 'custom' });
  });

  describe('AuthResult.denied(reason)', () => {
    const reasons: Record<string, string | undefined> = {
      plain: 'session expired',
      max: `${'x'.repeat(199)}y`, // exactly 200 characters
      none: undefined,
      quotes: 'user "bob" is locked',
      backslash: 'path C:\\sessions',
      newline: 'expired\r\nX-Injected: 1',
      nonAscii: 'sesión caducada',
      long: 'z'.repeat(201),
    };
    let server: TestServer;
    let generic: string;
    beforeAll(async () => {
      server = await r.serve([
        customAuth({
          authenticate: (token) => lib.AuthResult.denied(reasons[token]),
        }),
      ]);
      const res = await request(server.url).get('/').set('Authorization', 'Bearer none');
      generic = res.body.error_description;
    });

    const deny = (token: string) => request(server.url).get('/').set('Authorization', `Bearer ${token}`);

    // No reason ever reaches the client, however harmless it looks: it is the provider's text
    // (see test/hardening-scopes.test.ts for what goes to the log).
    it.each(['plain', 'max', 'quotes', 'backslash', 'newline', 'nonAscii', 'long'])(
      'a reason with %s gets the generic description',
      async (token) => {
        const res = await deny(token);
        expect(res.status).toBe(401);
        // Behind a Bearer challenge the body's code is the challenge's (issue 12).
        expect(res.body.error).toBe('invalid_token');
        expect(typeof generic).toBe('string');
        expect(generic.length).toBeGreaterThan(0);
        expect(res.body.error_description).toBe(generic);
        expect(res.headers['x-injected']).toBeUndefined();
        expect(res.headers['www-authenticate']).toBe(
          `Bearer realm="api", error="invalid_token", error_description="${generic}"`,
        );
        expect(res.text).not.toContain(reasons[token]!);
      },
    );
  });

  describe('a provider that fails', () => {
    it.each([
      [
        'throws synchronously',
        (): AuthResult => {
          throw new Error(`connect ECONNREFUSED ${SECRET}`);
        },
      ],
      [
        'rejects asynchronously',
        async (): Promise<AuthResult> => {
          await new Promise((resolve) => setImmediate(resolve));
          throw new Error(`connect ECONNREFUSED ${SECRET}`);
        },
      ],
      [
        'throws a non-Error',
        (): AuthResult => {
          throw SECRET;
        },
      ],
    ])('%s: 401, never 500, and its message never reaches the client', async (_label, authenticate) => {
      const server = await r.serve([customAuth({ authenticate })]);
      const res = await request(server.url).get('/').set('Authorization', 'Bearer tok-1');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      const everything = `${JSON.stringify(res.headers)}\n${res.text}`;
      for (const leak of [SECRET, 'hunter2', 'postgres://', 'ECONNREFUSED', 'tok-1']) {
        expect(everything).not.toContain(leak);
      }
    });

    it.each([
      ['a look-alike plain object', { ok: true, identity: { subject: 'mallory' } }],
      ['true', true],
      ['undefined', undefined],
      ['null', null],
      ['a string', 'ok'],
    ])('returning %s (not an AuthResult) gives 401', async (_label, value) => {
      const server = await r.serve([customAuth({ authenticate: () => value as unknown as AuthResult })]);
      const res = await request(server.url).get('/').set('Authorization', 'Bearer tok-1');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect(res.text).not.toContain('mallory');
    });
  });

  describe('modes', () => {
    const servers: Record<string, TestServer> = {};
    beforeAll(async () => {
      for (const mode of ['strict', 'optional', 'permissive'] as const) {
        servers[mode] = await r.serve([
          customAuth(
            {
              authenticate: (token) =>
                token === 'good-token'
                  ? lib.AuthResult.ok({ subject: 'ok-user' })
                  : lib.AuthResult.denied('nope'),
            },
            { mode },
          ),
        ]);
      }
    });

    it.each([...MODES_TABLE] as const)(
      '$mode with $credential credential -> $status',
      async ({ mode, credential, status }) => {
        const token =
          credential === 'valid' ? 'good-token' : credential === 'invalid' ? 'bad-token' : undefined;
        const req = request(servers[mode]!.url).get('/');
        if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
        const res = await req;
        expect(res.status).toBe(status);
        if (status === 401) {
          expect(res.body.error).toBe(credential === 'none' ? 'credentials_missing' : 'invalid_token');
          expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api"/);
          return;
        }
        const echo = res.body as Echo;
        if (credential === 'valid') {
          expect(echo.auth).toEqual({ subject: 'ok-user', scopes: [], method: 'custom' });
          expect(echo.headers.authorization).toBeUndefined();
        } else {
          expect(echo.auth).toBeNull();
          if (credential === 'invalid') expect(echo.headers.authorization).toBe('Bearer bad-token');
        }
      },
    );
  });

  describe('locations', () => {
    const seen: string[] = [];
    const provider: AuthProvider = {
      authenticate(token) {
        seen.push(token);
        return token === 'sess-1' ? lib.AuthResult.ok({ subject: 'carol' }) : lib.AuthResult.denied();
      },
    };

    it('a custom header (no prefix): read whole, stripped on success, Authorization untouched', async () => {
      const server = await r.serve([customAuth(provider, { location: { header: { name: 'x-session' } } })]);
      seen.length = 0;
      const res = await request(server.url)
        .get('/')
        .set('X-Session', 'sess-1')
        .set('Authorization', 'Bearer for-the-upstream');
      expect(res.status).toBe(200);
      expect(seen).toEqual(['sess-1']);
      const echo = res.body as Echo;
      expect(echo.auth?.subject).toBe('carol');
      expect(echo.headers['x-session']).toBeUndefined();
      expect(echo.rawHeaders.map((h) => h.toLowerCase())).not.toContain('x-session');
      expect(echo.headers.authorization).toBe('Bearer for-the-upstream');

      const missing = await request(server.url).get('/').set('Authorization', 'Bearer sess-1');
      expect(missing.status).toBe(401);
      expect(missing.body.error).toBe('credentials_missing');

      const wrong = await request(server.url).get('/').set('X-Session', 'sess-2');
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toBe('invalid_credentials');
    });

    it('a cookie: only that cookie is stripped on success', async () => {
      const server = await r.serve([customAuth(provider, { location: { cookie: { name: 'sid' } } })]);
      seen.length = 0;
      const res = await request(server.url).get('/').set('Cookie', 'theme=dark; sid=sess-1; lang=en');
      expect(res.status).toBe(200);
      expect(seen).toEqual(['sess-1']);
      expect(res.body.auth?.subject).toBe('carol');
      expect(res.body.headers.cookie).toBe('theme=dark; lang=en');

      const missing = await request(server.url).get('/').set('Cookie', 'theme=dark');
      expect(missing.status).toBe(401);
      expect(missing.body.error).toBe('credentials_missing');
    });
  });

  describe('close()', () => {
    it('calls provider.close() (as a method of the provider) once', async () => {
      class Sessions implements AuthProvider {
        closedTimes = 0;
        authenticate() {
          return lib.AuthResult.denied();
        }
        async close() {
          this.closedTimes++;
        }
      }
      const sessions = new Sessions();
      const mw = lib.customAuth(sessions);
      await expect(mw.close()).resolves.toBeUndefined();
      expect(sessions.closedTimes).toBe(1);
    });

    it('resolves when the provider has no close()', async () => {
      const mw = lib.customAuth({ authenticate: () => lib.AuthResult.denied() });
      await expect(mw.close()).resolves.toBeUndefined();
    });
  });

  it('a provider without authenticate() is a ConfigError naming it', () => {
    expect(() => lib.customAuth({} as unknown as AuthProvider)).toThrow(lib.ConfigError);
    expect(() => lib.customAuth({} as unknown as AuthProvider)).toThrow(/`provider`/);
  });
});
