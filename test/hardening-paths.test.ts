import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { koaRouting } from '../adapters/koa/index.js';
import { addReads, noReads, type RequestReads } from '../src/authz/request-reads.js';
import { canonicalPath, type PathFolding } from '../src/http/canonical-path.js';
import { AuthResult } from '../src/index.js';
import { type Framework, frameworks } from './support/frameworks.js';
import { closeServer, listenOnLoopback } from './support/loopback.js';
import { mountAt } from './support/mount.js';

// Issue 11, "What authorization and public paths see": rules and public paths decide on one
// canonical path, the one the app routes (src/http/canonical-path.ts), and a query parameter or
// header a rule reads has one copy. Each table runs on both adapters against real apps with
// real routes, and shows for every request target what the app routes beside what portcullis
// decided, so that the two can be seen to agree.

const all = await frameworks();

const DEFAULT: PathFolding = { caseSensitive: false, strict: false };
const STRICT: PathFolding = { caseSensitive: true, strict: true };

// --- The canonical path, as a pure function ---------------------------------------------------

describe('canonicalPath()', () => {
  // [target, default folding (Express's and @koa/router's), case-sensitive and strict]
  const table: [string, string | undefined, string | undefined][] = [
    ['/', '/', '/'],
    ['/admin', '/admin', '/admin'],
    ['/ADMIN', '/admin', '/ADMIN'],
    ['/Admin/', '/admin', '/Admin/'],
    ['/admin/', '/admin', '/admin/'],
    ['/admin?x=1', '/admin', '/admin'],
    ['/admin?x=/../y', '/admin', '/admin'],
    ['/a/b/c', '/a/b/c', '/a/b/c'],
    ['/...', '/...', '/...'],
    ['/.well-known/jwks', '/.well-known/jwks', '/.well-known/jwks'],
    ['/a.b/c..d', '/a.b/c..d', '/a.b/c..d'],
    // absolute-form: the path, as url.parse (Express and Koa routing) reads it
    ['http://x/admin', '/admin', '/admin'],
    ['http://x/admin?y', '/admin', '/admin'],
    ['HTTPS://x:8443/Admin/', '/admin', '/Admin/'],
    ['foo+bar.baz://x/admin', '/admin', '/admin'],
    ['http://127.0.0.1:80/admin', '/admin', '/admin'],
    ['http://[::1]:80/admin', '/admin', '/admin'],
    ['http://x', '/', '/'],
    ['http://x?y', '/', '/'],
    ['http://user@x/admin', undefined, undefined],
    ['http://x%41/admin', undefined, undefined],
    ['http:/admin', undefined, undefined],
    ['*', undefined, undefined],
    ['x:443', undefined, undefined],
    ['admin', undefined, undefined],
    ['', undefined, undefined],
    // empty segments
    ['//admin', undefined, undefined],
    ['//x/admin', undefined, undefined],
    ['/admin//', undefined, undefined],
    ['/a//b', undefined, undefined],
    ['http://x//admin', undefined, undefined],
    // dot segments, raw or encoded
    ['/x/../admin', undefined, undefined],
    ['/./admin', undefined, undefined],
    ['/admin/.', undefined, undefined],
    ['/admin/..', undefined, undefined],
    ['/%2e%2e/admin', undefined, undefined],
    ['/%2E/admin', undefined, undefined],
    ['/.%2e/admin', undefined, undefined],
    ['/%C0%AE%C0%AE/admin', undefined, undefined],
    // percent-encoded unreserved characters: the router and an upstream disagree
    ['/%61dmin', undefined, undefined],
    ['/%41DMIN', undefined, undefined],
    ['/admin%7e', undefined, undefined],
    ['/admin%2D', undefined, undefined],
    // separators some readers see and others do not
    ['/admin%2F', undefined, undefined],
    ['/admin%2fx', undefined, undefined],
    ['/admin\\', undefined, undefined],
    ['/admin%5C', undefined, undefined],
    ['/admin%5c..%5c', undefined, undefined],
    ['/admin;x', undefined, undefined],
    ['/admin;jsessionid=1', undefined, undefined],
    ['/admin%3B', undefined, undefined],
    ['/admin%2561', undefined, undefined],
    ['/admin#x', undefined, undefined],
    ['/admin?x#y', undefined, undefined],
    // control characters and invalid encodings
    ['/admin%00', undefined, undefined],
    ['/admin%0a', undefined, undefined],
    ['/admin%7F', undefined, undefined],
    ['/admin\u0000', undefined, undefined],
    ['/admin\t', undefined, undefined],
    ['/admin x', undefined, undefined],
    ['/admin\u00e9', undefined, undefined],
    ['/admin%', undefined, undefined],
    ['/admin%4', undefined, undefined],
    ['/admin%4?x', undefined, undefined],
    ['/admin%zz', undefined, undefined],
    ['/admin%u0061', undefined, undefined],
    ['/admin%C0%AF', undefined, undefined],
    ['/admin%E0%80%AF', undefined, undefined],
    ['/admin%ED%A0%80', undefined, undefined],
    ['/admin%FF', undefined, undefined],
    ['/%EF%BD%81dmin', undefined, undefined],
    // what stays encoded is spelled one way
    ['/caf%c3%a9', '/caf%C3%A9', '/caf%C3%A9'],
    ['/CAF%C3%A9/', '/caf%C3%A9', '/CAF%C3%A9/'],
    ['/a%20b', '/a%20b', '/a%20b'],
    ['/a%3fb', '/a%3Fb', '/a%3Fb'],
    ['/a|b', '/a%7Cb', '/a%7Cb'],
    ['/a%7cb', '/a%7Cb', '/a%7Cb'],
    ['/a{b}[c]^`"<>', '/a%7Bb%7D%5Bc%5D%5E%60%22%3C%3E', '/a%7Bb%7D%5Bc%5D%5E%60%22%3C%3E'],
    ["/a!$&'()*+,=:@b", "/a!$&'()*+,=:@b", "/a!$&'()*+,=:@b"],
  ];
  it.each(table)('%j -> %j (default), %j (case-sensitive, strict)', (target, folded, exact) => {
    expect(canonicalPath(target, DEFAULT)).toBe(folded);
    expect(canonicalPath(target, STRICT)).toBe(exact);
  });

  it('folds case and the trailing slash independently', () => {
    expect(canonicalPath('/Admin/', { caseSensitive: true, strict: false })).toBe('/Admin');
    expect(canonicalPath('/Admin/', { caseSensitive: false, strict: true })).toBe('/admin/');
  });

  it('is idempotent: a canonical path is its own canonical path', () => {
    for (const [target] of table) {
      for (const folding of [DEFAULT, STRICT]) {
        const once = canonicalPath(target, folding);
        if (once !== undefined) expect(canonicalPath(once, folding)).toBe(once);
      }
    }
  });
});

// --- What a rule reads, found at start-up -----------------------------------------------------

describe('which request fields a rule reads', () => {
  const reads = (...expressions: string[]): RequestReads => {
    const result = noReads();
    for (const expression of expressions) addReads(result, expression);
    return result;
  };
  const names = (set: Set<string> | true) => (set === true ? true : [...set].sort());

  it.each([
    ['request.method == "GET"', false, [], []],
    ['request.path == "/admin"', true, [], []],
    ['request.path.startsWith("/a") && jwt.sub == "x"', true, [], []],
    ['request.url.contains("x")', true, true, []],
    ['request.query.tenant == "red"', false, ['tenant'], []],
    ['request.query["tenant"] == "red"', false, ['tenant'], []],
    ['has(request.query.tenant)', false, ['tenant'], []],
    ['"tenant" in request.query', false, ['tenant'], []],
    ['request.query[jwt.field] == "red"', false, true, []],
    ['request.query.exists(k, k == "tenant")', false, true, []],
    ['size(request.query) > 0', false, true, []],
    ['request.headers["X-Team"] == "red"', false, [], ['x-team']],
    ['"x-team" in request.headers', false, [], ['x-team']],
    ['request.headers.all(k, k != "x")', false, [], true],
    ['request.host == "a"', false, [], ['host']],
    ['request["query"]["tenant"] == "x"', false, ['tenant'], []],
    ['[request][0].path == "/x"', true, true, true],
    ['request == {}', true, true, true],
    ['cel.bind(r, request, r.path == "/")', true, true, true],
  ] as [string, boolean, string[] | true, string[] | true][])('%s', (expression, path, query, headers) => {
    const found = reads(expression);
    expect(found.path).toBe(path);
    expect(names(found.query)).toEqual(query);
    expect(names(found.headers)).toEqual(headers);
  });

  it('adds up across rules', () => {
    const found = reads('request.query.a == "1"', 'request.headers["x-b"] == "2"', 'request.path == "/"');
    expect(found.path).toBe(true);
    expect(names(found.query)).toEqual(['a']);
    expect(names(found.headers)).toEqual(['x-b']);
  });
});

describe('a rule comparing request.path with a path no request can have', () => {
  it.each([
    'request.path == "/x/../admin"',
    'request.path == "//admin"',
    '"/%61dmin" == request.path',
    'request.path != "/admin;x"',
    'request.path == "/caf%c3%a9"',
    'request.path == "/a|b"',
    'request.path == "http://x/admin"',
    'request.path in ["/ok", "/admin%2F"]',
    'request.path.startsWith("/x//")',
    'request.path.startsWith("/admin;")',
    'request.path.startsWith("/%2e")',
    'jwt.sub == "a" && request.path == "/admin?x=1"',
  ])('%s is refused at start-up', async (rule) => {
    const { authorizer } = await import('../src/authz/authorize.js');
    expect(() => authorizer({ rules: [{ deny: rule }] })).toThrow(
      /`rules\[0\]\.deny`.*no request path can be/,
    );
    expect(() => authorizer({ rules: [rule] })).toThrow(/`rules\[0\]`/);
  });

  it.each([
    'request.path == "/admin"',
    'request.path == "/Admin/"',
    'request.path == "/caf%C3%A9"',
    'request.path in ["/a", "/b/c"]',
    'request.path.startsWith("/admin/")',
    'request.path.startsWith("/admin")',
    'request.path.endsWith("/..")',
    'request.method == "/x/../y"',
  ])('%s is accepted', async (rule) => {
    const { authorizer } = await import('../src/authz/authorize.js');
    expect(() => authorizer({ rules: [{ deny: rule }] })).not.toThrow();
  });
});

// --- Real apps, real routes -------------------------------------------------------------------

/** What a test app answers: the route it chose (null: none), and what the request carried. */
interface Routed {
  routed: string | null;
  headers?: Record<string, string | string[] | undefined>;
  auth?: unknown;
  query?: unknown;
}

interface Response {
  status: number;
  body: Routed & { error?: string };
}

/** Routes of the test apps; any other path reaches a fallback reporting `routed: null`. */
const ROUTES = ['/admin', '/health', '/api/admin'];

/**
 * A real app per framework: the portcullis middlewares, then real routes. Express routes with
 * its own router, under the app settings `routing` gives; Koa has no router of its own, so the
 * routes match `ctx.path` as @koa/router builds a route (path-to-regexp: case-insensitive unless
 * `sensitive`, an optional trailing slash unless `strict`), and `koaRouting()` says the same.
 */
const SIGNED_IN = { subject: 'tester', scopes: [] };

async function serveRouted(
  framework: Framework,
  middlewares: unknown[],
  routing: PathFolding = DEFAULT,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  if (framework.name.startsWith('express')) {
    const express = (
      framework.name === 'express4' ? (await import('express4')).default : (await import('express')).default
    ) as typeof import('express');
    const app = express();
    app.set('case sensitive routing', routing.caseSensitive);
    app.set('strict routing', routing.strict);
    // Every request carries an identity, so that a rule's refusal is the 403 of a denied
    // identity (a request without one is refused with 401: test/hardening-scopes.test.ts).
    app.use((req, _res, next) => {
      req.auth = SIGNED_IN;
      next();
    });
    for (const middleware of middlewares) app.use(middleware as import('express').RequestHandler);
    for (const route of ROUTES) {
      app.get(route, (req, res) => {
        res.json({ routed: route, headers: req.headers, auth: req.auth ?? null, query: req.query });
      });
    }
    app.use((req, res) => {
      res.json({ routed: null, headers: req.headers, auth: req.auth ?? null, query: req.query });
    });
    handler = app as unknown as typeof handler;
  } else {
    const Koa = (
      framework.name === 'koa2' ? (await import('koa2')).default : (await import('koa')).default
    ) as typeof import('koa');
    const app = new Koa();
    app.silent = true;
    if (routing !== DEFAULT) koaRouting(app, routing);
    app.use((ctx, next) => {
      ctx.state.auth = SIGNED_IN;
      return next();
    });
    for (const middleware of middlewares) app.use(middleware as import('koa').Middleware);
    const matchers = ROUTES.map(
      (route) =>
        [
          route,
          new RegExp(`^${route}${routing.strict ? '' : '/?'}$`, routing.caseSensitive ? '' : 'i'),
        ] as const,
    );
    app.use((ctx) => {
      const routed = matchers.find(([, pattern]) => pattern.test(ctx.path))?.[0] ?? null;
      ctx.body = { routed, headers: ctx.headers, auth: ctx.state.auth ?? null, query: ctx.query };
    });
    handler = app.callback();
  }
  const server = createServer(handler);
  await listenOnLoopback(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, close: () => closeServer(server) };
}

/**
 * A GET with the request target exactly as given, on a raw socket (supertest, fetch and even
 * http.request would normalise or refuse some: resolve dot segments, drop the fragment, send
 * origin-form), and header lines exactly as given (repeated, in any spelling).
 */
function send(port: number, target: string, headers: [string, string][] = []): Promise<Response> {
  return new Promise((resolve, reject) => {
    const lines = [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
    for (const [name, value] of headers) lines.push(`${name}: ${value}`);
    const socket = connect(port, '127.0.0.1', () =>
      socket.end(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      let body: Response['body'] = { routed: null };
      try {
        body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Response['body'];
      } catch {
        // Node's own 400 for a target its parser refuses has no body.
      }
      resolve({ status, body });
    });
  });
}

interface Closable {
  close(): Promise<void>;
}

const API_KEY = 'ak_test_paths_7c1e5b9d3f2a4c6e';

describe('koaRouting()', () => {
  it.each([
    [{ caseSensitive: 'yes' }, /`caseSensitive`/],
    [{ strict: 1 }, /`strict`/],
    [{ sensitive: true }, /`sensitive`/],
  ])('refuses %j', (routing, message) => {
    expect(() => koaRouting({}, routing as unknown as PathFolding)).toThrow(message);
  });
});

describe.each(all)('paths and repeated parameters on $name', (framework) => {
  const lib = framework.lib;
  const servers: Closable[] = [];
  const middlewares: Closable[] = [];
  const track = <T extends Closable>(middleware: T): T => {
    middlewares.push(middleware);
    return middleware;
  };
  const serve = async (list: unknown[], routing: PathFolding = DEFAULT) => {
    const server = await serveRouted(framework, list, routing);
    servers.push(server);
    return server;
  };
  afterAll(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const middleware of middlewares.splice(0)) await middleware.close();
  });
  const apiKey = (extra: Record<string, unknown> = {}) =>
    track(
      lib.apiKeyAuth({
        keys: [{ name: 'ops', key: API_KEY, scopes: ['read'] }],
        location: { header: { name: 'x-api-key' } },
        ...extra,
      }),
    );

  // [target, what the app routes by default, portcullis's answer with a deny rule on "/admin"]
  // 400: the target cannot be made unambiguous; 403: its canonical path is /admin; 200: it is not.
  // `node`: Node's HTTP parser refuses the target itself (400 before any middleware runs).
  const denyTable: [string, string | null | 'node', 200 | 400 | 403][] = [
    ['/admin', '/admin', 403],
    ['/admin?x=1', '/admin', 403],
    ['/ADMIN', '/admin', 403],
    ['/Admin/', '/admin', 403],
    ['/admin/', '/admin', 403],
    ['http://x/admin', '/admin', 403],
    ['http://x/admin?y=1', '/admin', 403],
    ['HTTP://x/Admin/', '/admin', 403],
    ['https://x:8443/admin', '/admin', 403],
    ['foo://x/admin', '/admin', 403],
    ['http://x:80/ADMIN?y', '/admin', 403],
    ['/admin#x', '/admin', 400],
    ['/admin?y#x', '/admin', 400],
    ['http://user@x/admin', '/admin', 400],
    ['http://user:pw@x/admin', '/admin', 400],
    ['//admin', null, 400],
    ['//x/admin', null, 400],
    ['/admin//', null, 400],
    ['/x/../admin', null, 400],
    ['/x/..//admin', null, 400],
    ['/./admin', null, 400],
    ['/admin/.', null, 400],
    ['/admin/x/..', null, 400],
    ['/%2e%2e/admin', null, 400],
    ['/x/%2E%2E/admin', null, 400],
    ['/%2e/admin', null, 400],
    ['/%61dmin', null, 400],
    ['/%41DMIN', null, 400],
    ['/adm%69n', null, 400],
    ['/admin%2F', null, 400],
    ['/admin%2f', null, 400],
    ['/x%2F..%2Fadmin', null, 400],
    ['/admin;x', null, 400],
    ['/admin;', null, 400],
    ['/admin%3Bx', null, 400],
    ['/admin%00', null, 400],
    ['/admin%0d%0a', null, 400],
    ['/admin\\', null, 400],
    ['/admin%5C', null, 400],
    ['/x\\..\\admin', null, 400],
    ['/%2561dmin', null, 400],
    ['/admin%', null, 400],
    ['/admin%4', null, 400],
    ['/admin%zz', null, 400],
    ['/admin%C0%AF', null, 400],
    ['/%C0%AE%C0%AE/admin', null, 400],
    ['/%E0%80%AE%E0%80%AE/admin', null, 400],
    ['/%EF%BD%81dmin', null, 400],
    ['*', null, 400],
    ['/admin.', null, 200],
    ['/adminx', null, 200],
    ['/admin/x', null, 200],
    ['/admin%20', null, 200],
    ['/x/admin', null, 200],
    ['/health', '/health', 200],
    ['/admin\u0001', 'node', 400],
    ['/admin x', 'node', 400],
    ['http://x\\@y/admin', 'node', 400],
  ];

  describe('a deny rule on request.path decides on what the app routes', () => {
    it.each(denyTable)('%j: the app routes %j, the rule answers %i', async (target, routes, status) => {
      const bare = await serve([]);
      const guarded = await serve([lib.authorize({ rules: [{ deny: 'request.path == "/admin"' }] })]);
      const routed = await send(bare.port, target);
      if (routes === 'node') {
        expect(routed.status).toBe(400);
      } else {
        expect(routed.status).toBe(200);
        expect(routed.body.routed).toBe(routes);
      }
      const answer = await send(guarded.port, target);
      expect(answer.status).toBe(status);
      if (routes !== 'node' && status !== 200) {
        expect(answer.body.error).toBe(status === 403 ? 'access_denied' : 'invalid_request');
      }
      // The point of it all: the handler of /admin is never reached past the deny rule.
      expect(answer.status === 200 && answer.body.routed === '/admin').toBe(false);
    });

    it('the same rule written on a subtree holds every spelling of it', async () => {
      const server = await serve([
        lib.authorize({
          rules: [{ deny: 'request.path == "/admin" || request.path.startsWith("/admin/")' }],
        }),
      ]);
      for (const target of ['/admin/users', '/ADMIN/Users/', 'http://x/Admin/users?y']) {
        expect((await send(server.port, target)).status, target).toBe(403);
      }
      expect((await send(server.port, '/administrator')).status).toBe(200);
    });

    it('an allow rule is not widened: what it lets through is routed where it says', async () => {
      const server = await serve([lib.authorize({ rules: ['request.path == "/health"'] })]);
      for (const target of ['/health', '/HEALTH', '/Health/', 'http://x/health?y']) {
        const res = await send(server.port, target);
        expect(res.status, target).toBe(200);
        expect(res.body.routed, target).toBe('/health');
      }
      for (const target of ['/%68ealth', '/x/../health', '//health', '/health;x', '/health%2F']) {
        expect((await send(server.port, target)).status, target).toBe(400);
      }
      for (const target of ['/admin', '/health/x', '/healthz']) {
        expect((await send(server.port, target)).status, target).toBe(403);
      }
    });

    it("follows the app's routing: case-sensitive and strict routing see /ADMIN and /admin/ as other paths", async () => {
      const bare = await serve([], STRICT);
      const guarded = await serve([lib.authorize({ rules: [{ deny: 'request.path == "/admin"' }] })], STRICT);
      for (const [target, routes, status] of [
        ['/admin', '/admin', 403],
        ['http://x/admin', '/admin', 403],
        ['/ADMIN', null, 200],
        ['/admin/', null, 200],
        ['/Admin/', null, 200],
        ['/%61dmin', null, 400],
        ['/x/../admin', null, 400],
      ] as const) {
        expect((await send(bare.port, target)).body.routed, target).toBe(routes);
        expect((await send(guarded.port, target)).status, target).toBe(status);
      }
      // A rule sees the path as the router compares it: written in the app's own case.
      const exact = await serve([lib.authorize({ rules: [{ deny: 'request.path == "/Admin/"' }] })], STRICT);
      expect((await send(exact.port, '/Admin/')).status).toBe(403);
      expect((await send(exact.port, '/admin/')).status).toBe(200);
    });

    it('decides on the full path under a mount', async () => {
      const server = await serve([
        await mountAt(
          framework,
          '/api',
          lib.authorize({ rules: [{ deny: 'request.path == "/api/admin"' }] }),
        ),
      ]);
      for (const target of ['/api/admin', '/api/ADMIN/', 'http://x/api/Admin?y']) {
        expect((await send(server.port, target)).status, target).toBe(403);
      }
      expect((await send(server.port, '/api/x/../admin')).status).toBe(400);
      const open = await send(server.port, '/api/other');
      expect(open.status).toBe(200);
    });

    it('leaves the path alone when no rule reads it', async () => {
      const server = await serve([lib.authorize({ rules: [{ deny: 'request.method == "DELETE"' }] })]);
      // Nothing decides on the path here, so nothing about it is refused.
      expect((await send(server.port, '/x/../admin')).status).toBe(200);
      expect((await send(server.port, '/admin;x')).status).toBe(200);
    });

    it('request.url carries the canonical path and the query as sent', async () => {
      const server = await serve([lib.authorize({ rules: [{ deny: 'request.url == "/admin?tab=keys"' }] })]);
      expect((await send(server.port, 'http://x/ADMIN/?tab=keys')).status).toBe(403);
      expect((await send(server.port, '/admin?tab=other')).status).toBe(200);
      expect((await send(server.port, '/%61dmin?tab=keys')).status).toBe(400);
    });
  });

  // [target, the app routes it to, with publicPaths ["/health"] and no credential]
  // 200: public (and the app routes it to /health); 401: not public; 400: ambiguous.
  const publicTable: [string, string | null, 200 | 400 | 401][] = [
    ['/health', '/health', 200],
    ['/health?x=1', '/health', 200],
    ['/HEALTH', '/health', 200],
    ['/Health/', '/health', 200],
    ['/health/', '/health', 200],
    ['http://x/health', '/health', 200],
    ['HTTP://X/Health?y', '/health', 200],
    ['/%68ealth', null, 400],
    ['/x/../health', null, 400],
    ['/health/../admin', null, 400],
    ['/health/%2e%2e/admin', null, 400],
    ['/./health', null, 400],
    ['//health', null, 400],
    ['/health//', null, 400],
    ['/health;x', null, 400],
    ['/health%2F..%2Fadmin', null, 400],
    ['/health\\..\\admin', null, 400],
    ['/health%00', null, 400],
    ['/health#x', '/health', 400],
    ['*', null, 400],
    ['/healthz', null, 401],
    ['/health/x', null, 401],
    ['/health%20', null, 401],
    ['/health.', null, 401],
    ['/admin', '/admin', 401],
    ['http://x/admin', '/admin', 401],
  ];

  describe('a public path is the path the app routes, and no other', () => {
    it.each(publicTable)('%j: the app routes %j, portcullis answers %i', async (target, routes, status) => {
      const bare = await serve([]);
      const guarded = await serve([apiKey({ publicPaths: ['/health'] })]);
      expect((await send(bare.port, target)).body.routed).toBe(routes);
      const answer = await send(guarded.port, target);
      expect(answer.status).toBe(status);
      // Skipping authentication only ever exposes the public route itself.
      if (answer.status === 200) expect(answer.body.routed).toBe('/health');
      if (status === 400) expect(answer.body.error).toBe('invalid_request');
    });

    it('a valid credential still passes on a non-public path', async () => {
      const server = await serve([apiKey({ publicPaths: ['/health'] })]);
      const res = await send(server.port, '/admin', [['x-api-key', API_KEY]]);
      expect(res.status).toBe(200);
      expect(res.body.routed).toBe('/admin');
    });

    it('anyAuth folds public paths the same way', async () => {
      const any = lib.anyAuth as unknown as (...args: unknown[]) => Closable;
      const server = await serve([track(any(apiKey(), { publicPaths: ['/health'] }))]);
      expect((await send(server.port, '/HEALTH/')).status).toBe(200);
      expect((await send(server.port, 'http://x/health')).status).toBe(200);
      expect((await send(server.port, '/%68ealth')).status).toBe(400);
      expect((await send(server.port, '/admin')).status).toBe(401);
    });

    it('configured public paths are folded as the request is', async () => {
      const server = await serve([apiKey({ publicPaths: ['/Health/'] })]);
      expect((await send(server.port, '/health')).status).toBe(200);
      const exact = await serve([apiKey({ publicPaths: ['/Health/'] })], STRICT);
      expect((await send(exact.port, '/Health/')).status).toBe(200);
      expect((await send(exact.port, '/health/')).status).toBe(401);
      expect((await send(exact.port, '/Health')).status).toBe(401);
    });

    it('with case-sensitive, strict routing the public path is exact, as the router is', async () => {
      const bare = await serve([], STRICT);
      const guarded = await serve([apiKey({ publicPaths: ['/health'] })], STRICT);
      for (const [target, routes, status] of [
        ['/health', '/health', 200],
        ['http://x/health', '/health', 200],
        ['/HEALTH', null, 401],
        ['/health/', null, 401],
        ['/%68ealth', null, 400],
      ] as const) {
        expect((await send(bare.port, target)).body.routed, target).toBe(routes);
        expect((await send(guarded.port, target)).status, target).toBe(status);
      }
    });

    it.each([
      '/health?x',
      'health',
      '/x/../health',
      '//health',
      '/%68ealth',
      '/health;x',
      '/health%2F',
      '/health#x',
      '/a\\b',
      '/a%00',
    ])('publicPaths %j is refused at start-up', (path) => {
      expect(() => apiKey({ publicPaths: [path] })).toThrow(/`publicPaths\[0\]`/);
    });
  });

  describe('everything else that decides on the path sees the canonical one', () => {
    it('forwardIdentity: a header taken from request.path', async () => {
      const server = await serve([lib.forwardIdentity({ headers: { 'x-route': 'request.path' } })]);
      const res = await send(server.port, 'http://x/ADMIN/?y', [['x-route', '/spoofed']]);
      expect(res.status).toBe(200);
      expect(res.body.headers?.['x-route']).toBe('/admin');
      expect((await send(server.port, '/x/../admin')).status).toBe(400);
    });

    it('customAuth: the provider sees the canonical path, never an ambiguous one', async () => {
      const seen: string[] = [];
      const provider = {
        authenticate: (_token: string, request: { path: string }) => {
          seen.push(request.path);
          return AuthResult.ok({ subject: 'x' });
        },
      };
      const server = await serve([track(lib.customAuth(provider))]);
      const ok = await send(server.port, 'http://x/Admin/', [['authorization', 'Bearer t']]);
      expect(ok.status).toBe(200);
      const refused = await send(server.port, '/x/../admin', [['authorization', 'Bearer t']]);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_request');
      expect(seen).toEqual(['/admin']);
    });
  });

  // --- Repeated query parameters ----------------------------------------------------------

  // [query, answer of a deny rule that does not err on an absent parameter (the form a
  // repeated parameter could slip past, were one copy picked)]
  const queryTable: [string, 200 | 400 | 403][] = [
    ['tenant=red', 403],
    ['tenant=blue', 200],
    ['t%65nant=red', 403],
    ['tenant=r%65d', 403],
    ['tenant=red&tenant=blue', 400],
    ['tenant=blue&tenant=red', 400],
    ['tenant=blue&t%65nant=red', 400],
    ['tenant=blue&%74enant=red', 400],
    ['tenant=blue&tenant=', 400],
    ['tenant=blue&tenant', 400],
    ['tenant=blue&&tenant=red', 400],
    ['tenant[]=red', 400],
    ['tenant%5B%5D=red', 400],
    ['tenant[]=blue&tenant[]=red', 400],
    ['tenant=blue&tenant[0]=red', 400],
    ['tenant[x]=red', 400],
    ['tenant=%ZZ', 400],
    ['tenant=blue&tenant=%ZZ', 400],
    // Spellings other parsers file under `tenant` (trailing space: PHP and Rack trim; `Tenant`:
    // ASP.NET; `[tenant]`: Express's qs): the rule would see no tenant where they see one.
    ['tenant+=red', 400],
    ['Tenant=red', 400],
    ['[tenant]=red', 400],
    ['tenantx=red', 200],
    ['a=1&a=2&tenant=blue', 200],
    ['a[]=1&a[]=2&tenant=blue', 200],
    ['a=%ZZ&tenant=blue', 200],
    ['', 200],
  ];

  const DENY_RED_TENANT = 'has(request.query.tenant) && request.query.tenant == "red"';
  const DENY_RED_TEAM = '"x-team" in request.headers && request.headers["x-team"] == "red"';

  describe('a query parameter a rule reads has one copy', () => {
    it.each(queryTable)('?%s -> %i', async (query, status) => {
      const server = await serve([lib.authorize({ rules: [{ deny: DENY_RED_TENANT }] })]);
      const res = await send(server.port, `/x?${query}`);
      expect(res.status).toBe(status);
      if (status === 400) expect(res.body.error).toBe('invalid_request');
    });

    it('unrelated repeated parameters reach the app as its own list', async () => {
      const server = await serve([lib.authorize({ rules: [{ deny: 'request.query.tenant == "red"' }] })]);
      const res = await send(server.port, '/x?a=1&a=2&tenant=blue');
      expect(res.status).toBe(200);
      expect((res.body.query as Record<string, unknown>).a).toEqual(['1', '2']);
    });

    it('a rule reading the query as a whole (or request.url) refuses any repeated parameter', async () => {
      for (const rule of [
        'request.url.contains("=red")',
        'request.query.exists(k, request.query[k] == "red")',
        'request.query[request.headers["x-field"]] == "red"',
      ]) {
        const server = await serve([lib.authorize({ rules: [{ deny: rule }] })]);
        const field: [string, string][] = [['x-field', 'b']];
        expect((await send(server.port, '/x?a=1&a=2', field)).status, rule).toBe(400);
        expect((await send(server.port, '/x?a[]=1', field)).status, rule).toBe(400);
        expect((await send(server.port, '/x?a=1&b=2', field)).status, rule).toBe(200);
        expect((await send(server.port, '/x?a=1&b=red', field)).status, rule).toBe(403);
      }
    });

    it('more parameters than the app parses (1000) are refused when a rule reads the query', async () => {
      const server = await serve([lib.authorize({ rules: [{ deny: DENY_RED_TENANT }] })]);
      const filler = Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join('&');
      expect((await send(server.port, `/x?${filler}&tenant=red`)).status).toBe(400);
      expect((await send(server.port, `/x?p=1&tenant=blue`)).status).toBe(200);
    });

    it('an allow rule on a parameter is not satisfied by one copy of two', async () => {
      const server = await serve([lib.authorize({ rules: ['request.query.tenant == "blue"'] })]);
      expect((await send(server.port, '/x?tenant=blue')).status).toBe(200);
      expect((await send(server.port, '/x?tenant=blue&tenant=red')).status).toBe(400);
      expect((await send(server.port, '/x?tenant[]=blue')).status).toBe(400);
    });

    it('forwardIdentity refuses to forward one copy of a repeated parameter', async () => {
      const server = await serve([lib.forwardIdentity({ headers: { 'x-tenant': 'request.query.tenant' } })]);
      const one = await send(server.port, '/x?tenant=blue');
      expect(one.body.headers?.['x-tenant']).toBe('blue');
      expect((await send(server.port, '/x?tenant=blue&tenant=red')).status).toBe(400);
    });
  });

  // --- Repeated headers -------------------------------------------------------------------

  // [header lines, answer of a deny rule on x-team that does not err on an absent header]
  const headerTable: [[string, string][], 200 | 400 | 403][] = [
    [[['x-team', 'red']], 403],
    [[['X-Team', 'red']], 403],
    [[['x-team', 'blue']], 200],
    [[['x-team', 'blue, red']], 200],
    [
      [
        ['x-team', 'red'],
        ['x-team', 'blue'],
      ],
      400,
    ],
    [
      [
        ['x-team', 'blue'],
        ['x-team', 'red'],
      ],
      400,
    ],
    [
      [
        ['X-Team', 'blue'],
        ['x-team', 'red'],
      ],
      400,
    ],
    [
      [
        ['x-team', 'blue'],
        ['x_team', 'red'],
      ],
      400,
    ],
    [
      [
        ['x-team', 'blue'],
        ['X_TEAM', 'red'],
      ],
      400,
    ],
    [
      [
        ['x-team', 'blue'],
        ['x-team', ''],
      ],
      400,
    ],
    // Alone, `x_team` is another header to Node (the rule would see no x-team), while CGI-style
    // upstreams read it as x-team.
    [[['x_team', 'red']], 400],
    [
      [
        ['x-team', 'blue'],
        ['x-other', 'a'],
        ['x-other', 'b'],
      ],
      200,
    ],
    [[['x-teams', 'red']], 200],
    [[], 200],
  ];

  describe('a header a rule reads arrives on one line', () => {
    it.each(headerTable)('%j -> %i', async (lines, status) => {
      const server = await serve([lib.authorize({ rules: [{ deny: DENY_RED_TEAM }] })]);
      const res = await send(server.port, '/x', lines);
      expect(res.status).toBe(status);
      if (status === 400) expect(res.body.error).toBe('invalid_request');
    });

    it('a rule reading the headers as a whole refuses any repeated header', async () => {
      const server = await serve([
        lib.authorize({ rules: [{ deny: 'request.headers.exists(k, request.headers[k] == "red")' }] }),
      ]);
      expect((await send(server.port, '/x', [['x-a', 'blue']])).status).toBe(200);
      expect((await send(server.port, '/x', [['x-a', 'red']])).status).toBe(403);
      const twice: [string, string][] = [
        ['x-a', 'blue'],
        ['x-a', 'red'],
      ];
      expect((await send(server.port, '/x', twice)).status).toBe(400);
    });

    it('request.host reads the Host header: a second Host line is refused', async () => {
      const server = await serve([lib.authorize({ rules: [{ deny: 'request.host == "admin.test"' }] })]);
      expect((await send(server.port, '/x')).status).toBe(200);
      const res = await send(server.port, '/x', [['Host', 'admin.test']]);
      expect(res.status).toBe(400);
    });

    it('request.host: an absolute-form target naming another host is refused', async () => {
      const server = await serve([lib.authorize({ rules: [{ deny: 'request.host == "admin.test"' }] })]);
      const here = `127.0.0.1:${server.port}`;
      expect((await send(server.port, `http://${here}/x`)).status).toBe(200);
      const other = await send(server.port, 'http://admin.test/x');
      expect(other.status).toBe(400);
      expect(other.body.error).toBe('invalid_request');
      // A rule that does not read the host lets absolute-form through, decided on its path.
      const paths = await serve([lib.authorize({ rules: [{ deny: 'request.path == "/admin"' }] })]);
      expect((await send(paths.port, 'http://admin.test/x')).status).toBe(200);
    });
  });
});
