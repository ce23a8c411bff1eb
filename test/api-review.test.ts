import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../src/index.js';
import { frameworks } from './support/frameworks.js';
import { closeServer, listenOnLoopback } from './support/loopback.js';

// Issue 12, a hostile review of the inbound pipeline, the refusal catalogue and publicPaths.
// Each case below failed before its fix, on both adapters.

const all = await frameworks();

const API_KEY = 'ak_test_review_5c1e9a3b7d2f4e6a';

const sha1 = (password: string) => `{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`;

interface Closable {
  close(): Promise<void>;
}

/**
 * An upstream that honours a method override the way Rack (Rails), ASP.NET Core's
 * UseHttpMethodOverride, Laravel and Express's method-override do for a POST
 * (`X-HTTP-Method-Override`), and Spring's HiddenHttpMethodFilter does for a `_method`
 * parameter: it reports the method it would route the request as.
 */
async function overridingUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const override =
      req.headers['x-http-method-override'] ??
      req.headers['x-http-method'] ??
      url.searchParams.get('_method');
    const routedAs =
      req.method === 'POST' && typeof override === 'string' ? override.toUpperCase() : req.method;
    res.setHeader('content-type', 'application/json');
    // IIS URL Rewrite and Symfony before CVE-2018-14773 route by these headers when present.
    const rewritten = req.headers['x-original-url'] ?? req.headers['x-rewrite-url'];
    const path =
      typeof rewritten === 'string' ? new URL(rewritten, 'http://upstream').pathname : url.pathname;
    res.end(JSON.stringify({ routedAs, path }));
  });
  await listenOnLoopback(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

describe.each(all)('review of issue 12 on $name', (framework) => {
  const lib = framework.lib;
  const closables: Closable[] = [];
  afterAll(async () => {
    for (const closable of closables.splice(0).reverse()) await closable.close();
  });
  const track = <T extends Closable>(closable: T): T => {
    closables.push(closable);
    return closable;
  };

  describe('publicPaths methods: a method override never widens a method entry', () => {
    it('a public POST carrying X-HTTP-Method-Override or _method for another method needs a credential', async () => {
      const upstream = track(await overridingUpstream());
      const auth = track(
        lib.apiKeyAuth({
          keys: [{ name: 'ops', key: API_KEY }],
          location: { header: { name: 'x-api-key' } },
          publicPaths: [{ path: '/hooks/*', methods: ['POST'] }],
        }),
      );
      const server = track(await framework.serve([auth], { forwardTo: upstream.url }));
      // The public webhook itself, and an override that names the same method, stay public.
      const plain = await request(server.url).post('/hooks/github').send({});
      expect(plain.status).toBe(200);
      expect(plain.body).toEqual({ routedAs: 'POST', path: '/hooks/github' });
      const same = await request(server.url).post('/hooks/github').set('x-http-method-override', 'post');
      expect(same.status).toBe(200);
      // Another method, by header (any of the usual names, any spelling) or by query parameter.
      for (const [name, value] of [
        ['x-http-method-override', 'DELETE'],
        ['X-HTTP-Method-Override', 'delete'],
        ['x-http-method', 'PUT'],
        ['x-method-override', 'PATCH'],
        ['X_HTTP_Method_Override', 'DELETE'],
      ] as const) {
        const res = await request(server.url).post('/hooks/github').set(name, value);
        expect(res.status, `${name}: ${value}`).toBe(401);
        expect(res.body.error).toBe('credentials_missing');
      }
      for (const target of [
        '/hooks/github?_method=DELETE',
        '/hooks/github?_method=put&x=1',
        '/hooks/github?_method[]=DELETE',
      ]) {
        const res = await request(server.url).post(target);
        expect(res.status, target).toBe(401);
      }
      // With the credential, the override reaches the upstream as before: only "public" narrows.
      const keyed = await request(server.url)
        .post('/hooks/github')
        .set('x-api-key', API_KEY)
        .set('x-http-method-override', 'DELETE');
      expect(keyed.status).toBe(200);
      expect(keyed.body.routedAs).toBe('DELETE');
    });

    it('a public path carrying X-Original-URL or X-Rewrite-URL for another path needs a credential', async () => {
      const upstream = track(await overridingUpstream());
      const auth = track(
        lib.apiKeyAuth({
          keys: [{ name: 'ops', key: API_KEY }],
          location: { header: { name: 'x-api-key' } },
          publicPaths: ['/health', '/docs/*', { path: '/hooks/*', methods: ['POST'] }],
        }),
      );
      const server = track(await framework.serve([auth], { forwardTo: upstream.url }));
      for (const [target, name, value] of [
        ['/health', 'x-original-url', '/admin'],
        ['/docs/a', 'X-Rewrite-URL', '/admin/users?x=1'],
        ['/health', 'X_Original_URL', '/admin'],
        ['/health', 'x-original-url', '/docs/../admin'],
        ['/health', 'x-original-url', 'not a path'],
      ] as const) {
        const res = await request(server.url).get(target).set(name, value);
        expect(res.status, `${target} ${name}: ${value}`).toBe(401);
      }
      const hook = await request(server.url).post('/hooks/a').set('x-original-url', '/admin');
      expect(hook.status).toBe(401);
      // What repeats a public path (IIS ARR in front: the client's own URL) changes nothing.
      for (const [target, value] of [
        ['/health', '/health'],
        ['/docs/a', '/docs/b?page=2'],
        ['/health', '/HEALTH/'],
      ] as const) {
        const res = await request(server.url).get(target).set('x-original-url', value);
        expect(res.status, `${target} x-original-url: ${value}`).toBe(200);
      }
      const keyed = await request(server.url)
        .get('/health')
        .set('x-original-url', '/admin')
        .set('x-api-key', API_KEY);
      expect(keyed.status).toBe(200);
      expect(keyed.body.path).toBe('/admin');
    });

    it('an entry without methods is public for every method, overrides included', async () => {
      const auth = track(
        lib.apiKeyAuth({
          keys: [{ name: 'ops', key: API_KEY }],
          location: { header: { name: 'x-api-key' } },
          publicPaths: ['/open/*'],
        }),
      );
      const server = track(await framework.serve([auth]));
      const res = await request(server.url)
        .post('/open/x?_method=DELETE')
        .set('x-http-method-override', 'DELETE');
      expect(res.status).toBe(200);
    });
  });

  describe('authorize: a rule on request.method or request.path decides for the request that is served', () => {
    const keyed = () =>
      track(
        lib.apiKeyAuth({
          keys: [{ name: 'ops', key: API_KEY }],
          location: { header: { name: 'x-api-key' } },
        }),
      );

    it('a method override naming another method than a rule allowed is refused with 400', async () => {
      const upstream = track(await overridingUpstream());
      const server = track(
        await framework.serve([keyed(), lib.authorize({ rules: ['request.method in ["GET", "POST"]'] })], {
          forwardTo: upstream.url,
        }),
      );
      const plain = await request(server.url).post('/items/1').set('x-api-key', API_KEY);
      expect(plain.status).toBe(200);
      expect(plain.body.routedAs).toBe('POST');
      for (const [name, value] of [
        ['x-http-method-override', 'DELETE'],
        ['X-Method-Override', 'put'],
        ['x_http_method', 'DELETE'],
      ] as const) {
        const res = await request(server.url).post('/items/1').set('x-api-key', API_KEY).set(name, value);
        expect(res.status, `${name}: ${value}`).toBe(400);
        expect(res.body.error).toBe('invalid_request');
        expect(res.headers['cache-control']).toBe('no-store');
      }
      const byQuery = await request(server.url).post('/items/1?_method=DELETE').set('x-api-key', API_KEY);
      expect(byQuery.status).toBe(400);
      // An override that repeats the method changes nothing.
      const same = await request(server.url)
        .post('/items/1')
        .set('x-api-key', API_KEY)
        .set('x-http-method-override', 'POST');
      expect(same.status).toBe(200);
    });

    it('a rewrite header naming another path than a rule allowed is refused with 400', async () => {
      const upstream = track(await overridingUpstream());
      const server = track(
        await framework.serve([keyed(), lib.authorize({ rules: ['!request.path.startsWith("/admin")'] })], {
          forwardTo: upstream.url,
        }),
      );
      const plain = await request(server.url).get('/reports').set('x-api-key', API_KEY);
      expect(plain.status).toBe(200);
      expect((await request(server.url).get('/admin').set('x-api-key', API_KEY)).status).toBe(403);
      for (const name of ['x-original-url', 'X-Rewrite-URL']) {
        const res = await request(server.url).get('/reports').set('x-api-key', API_KEY).set(name, '/admin');
        expect(res.status, name).toBe(400);
        expect(res.body.error).toBe('invalid_request');
      }
      const same = await request(server.url)
        .get('/reports')
        .set('x-api-key', API_KEY)
        .set('x-original-url', '/reports?x=1');
      expect(same.status).toBe(200);
    });

    it('rules that read neither leave overrides to the app', async () => {
      const server = track(
        await framework.serve([keyed(), lib.authorize({ rules: ['auth.subject != ""'] })]),
      );
      const res = await request(server.url)
        .post('/x')
        .set('x-api-key', API_KEY)
        .set('x-http-method-override', 'DELETE')
        .set('x-original-url', '/y');
      expect(res.status).toBe(200);
    });
  });

  describe('insufficient_scope answers with the challenge of the scheme that ran, as every refusal does', () => {
    const KEYS = [
      { name: 'reader', key: API_KEY, scopes: ['read'] },
      { name: 'other', key: `${API_KEY}_other`, scopes: ['read'] },
    ];

    it('an API key at x-api-key is not told to bring a bearer token', async () => {
      const auth = track(lib.apiKeyAuth({ keys: KEYS, location: { header: { name: 'x-api-key' } } }));
      const server = track(await framework.serve([auth, lib.requireScopes('write')]));
      const res = await request(server.url).get('/x').set('x-api-key', API_KEY);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'insufficient_scope', error_description: expect.any(String) });
      expect(res.headers['www-authenticate']).toBe(
        'ApiKey realm="api", header="x-api-key", error="insufficient_scope", scope="write"',
      );
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('a custom session cookie gets its own challenge; a key at Authorization: Bearer keeps Bearer', async () => {
      const session = track(
        lib.customAuth(
          { authenticate: () => lib.AuthResult.ok({ subject: 'ali', scopes: ['read'] }) },
          { location: { cookie: { name: 'sid' } } },
        ),
      );
      const cookie = track(await framework.serve([session, lib.requireScopes('write')]));
      const byCookie = await request(cookie.url).get('/x').set('cookie', 'sid=s1');
      expect(byCookie.status).toBe(403);
      expect(byCookie.headers['www-authenticate']).toBe(
        'Custom realm="api", cookie="sid", error="insufficient_scope", scope="write"',
      );
      const bearer = track(lib.apiKeyAuth({ keys: KEYS }));
      const atBearer = track(await framework.serve([bearer, lib.requireScopes('write')]));
      const byBearer = await request(atBearer.url).get('/x').set('authorization', `Bearer ${API_KEY}`);
      expect(byBearer.status).toBe(403);
      expect(byBearer.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="write"');
    });

    it('Basic has no insufficient_scope (RFC 7617): a 403 without a Bearer challenge', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'portcullis-review-'));
      const file = join(dir, 'htpasswd');
      await writeFile(file, `ali:${sha1('sesame')}\n`);
      const basic = track(lib.basicAuth({ htpasswd: { file } }));
      const server = track(await framework.serve([basic, lib.requireScopes('write')]));
      const res = await request(server.url)
        .get('/x')
        .set('authorization', `Basic ${Buffer.from('ali:sesame').toString('base64')}`);
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toBeUndefined();
      await rm(dir, { recursive: true, force: true });
    });

    it('with no scheme in front (an identity the app set), the RFC 6750 challenge as before', async () => {
      const setByApp = framework.name.startsWith('express')
        ? (req: { auth?: unknown }, _res: unknown, next: () => void) => {
            req.auth = { subject: 'app', scopes: [] };
            next();
          }
        : (ctx: { state: { auth?: unknown } }, next: () => Promise<unknown>) => {
            ctx.state.auth = { subject: 'app', scopes: [] };
            return next();
          };
      const server = track(await framework.serve([setByApp, lib.requireScopes('write')]));
      const res = await request(server.url).get('/x');
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="write"');
    });
  });

  describe('an identity the app set before a scheme', () => {
    const KEYS = [{ name: 'ops', key: API_KEY, scopes: ['read'] }];
    const express = framework.name.startsWith('express');
    /** Sets `auth` on the request (Express) or `ctx.state` (Koa); `inherited`: on a prototype of the request instead (Express). */
    const setByApp = (inherited: boolean) =>
      express
        ? (req: object, _res: unknown, next: () => void) => {
            const auth = { subject: 'app', scopes: ['from-app'] };
            if (inherited)
              Object.setPrototypeOf(
                req,
                Object.create(Object.getPrototypeOf(req), { auth: { value: auth, writable: true } }),
              );
            else (req as { auth?: unknown }).auth = auth;
            next();
          }
        : (ctx: { state: { auth?: unknown } }, next: () => Promise<unknown>) => {
            ctx.state.auth = { subject: 'app', scopes: ['from-app'] };
            return next();
          };

    it('is merged with the identity of the scheme that runs after it', async () => {
      const keys = track(lib.apiKeyAuth({ keys: KEYS }));
      const server = track(await framework.serve([setByApp(false), keys]));
      const res = await request(server.url).get('/x').set('authorization', `Bearer ${API_KEY}`);
      expect(res.status).toBe(200);
      expect(res.body.auth.subject).toBe('ops');
      expect([...res.body.auth.scopes].sort()).toEqual(['from-app', 'read']);
    });

    // Express only: a Koa identity lives on ctx.state, which no framework prototype feeds.
    if (express)
      it('Express: one the request only inherits (a prototype of the request) is not merged', async () => {
        const keys = track(lib.apiKeyAuth({ keys: KEYS }));
        const server = track(await framework.serve([setByApp(true), keys]));
        const res = await request(server.url).get('/x').set('authorization', `Bearer ${API_KEY}`);
        expect(res.status).toBe(200);
        expect(res.body.auth).toEqual(
          expect.objectContaining({ subject: 'ops', scopes: ['read'], method: 'apiKey' }),
        );
      });
  });

  describe('wrong_adapter: all nine factories of the other adapter, at app level and on a route', () => {
    const other = all.find((candidate) => candidate !== framework)!.lib;
    const makers: [string, (l: typeof lib) => unknown][] = [
      ['jwtAuth', (l) => l.jwtAuth({ issuer: 'https://issuer.example', jwks: { inline: { keys: [] } } })],
      [
        'basicAuth',
        async (l) => {
          const dir = await mkdtemp(join(tmpdir(), 'portcullis-review-'));
          await writeFile(join(dir, 'htpasswd'), `ali:${sha1('sesame')}\n`);
          return l.basicAuth({ htpasswd: { file: join(dir, 'htpasswd') } });
        },
      ],
      ['apiKeyAuth', (l) => l.apiKeyAuth({ keys: [{ name: 'ops', key: API_KEY }] })],
      ['customAuth', (l) => l.customAuth({ authenticate: () => l.AuthResult.denied() })],
      ['anyAuth', (l) => l.anyAuth(l.apiKeyAuth({ keys: [{ name: 'ops', key: API_KEY }] }) as never)],
      ['authorize', (l) => l.authorize({ rules: ['true'] })],
      ['requireScopes', (l) => l.requireScopes('read')],
      ['forwardIdentity', (l) => l.forwardIdentity({ headers: { 'x-user': 'auth.subject' } })],
      [
        'backendAuth',
        (l) => l.backendAuth({ openai: { apiKey: 'sk-test-key' }, upstream: 'https://api.openai.com' }),
      ],
    ];
    it.each(makers)('%s answers 500 wrong_adapter, never reaching the app', async (_, make) => {
      const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
      const middleware = await make(other);
      if (typeof (middleware as Partial<Closable>).close === 'function') track(middleware as Closable);
      const server = track(await framework.serve([middleware]));
      const res = await request(server.url).get('/x').set('x-api-key', API_KEY);
      expect(res.status).toBe(500);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.error).toBe('wrong_adapter');
      expect(res.body.auth).toBeUndefined();
      expect(res.text).not.toMatch(/ at |\.ts:|\.js:/);
      logged.mockRestore();
    });
  });

  describe('realm: only what a response header can carry', () => {
    it('a realm outside printable ASCII is refused at start-up, not turned into a 500 on every refusal', () => {
      for (const realm of ['API ✓', 'Zürich', 'tab\there']) {
        expect(
          () =>
            lib.apiKeyAuth({
              keys: [{ name: 'ops', key: API_KEY }],
              location: { header: { name: 'x-api-key' } },
              realm,
            }),
          realm,
        ).toThrow(ConfigError);
      }
    });

    it('a printable ASCII realm is answered in the challenge, escaped nowhere it need not be', async () => {
      const auth = track(
        lib.apiKeyAuth({
          keys: [{ name: 'ops', key: API_KEY }],
          location: { header: { name: 'x-api-key' } },
          realm: "Ops API (v2) ~ it's ok",
        }),
      );
      const server = track(await framework.serve([auth]));
      const res = await request(server.url).get('/x');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        `ApiKey realm="Ops API (v2) ~ it's ok", header="x-api-key"`,
      );
      expect(res.headers['cache-control']).toBe('no-store');
    });
  });
});
