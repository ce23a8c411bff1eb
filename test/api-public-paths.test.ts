import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { koaRouting } from '../adapters/koa/index.js';
import type { PathFolding } from '../src/http/canonical-path.js';
import { type Framework, frameworks } from './support/frameworks.js';
import { closeServer, listenOnLoopback } from './support/loopback.js';
import { mountAt } from './support/mount.js';

// Issue 12, "What users reach for": publicPaths takes prefixes ("/docs/*") and methods
// ({ methods: ["OPTIONS"] } for CORS preflights), as express-jwt's and koa-jwt's
// `.unless({ path, method })` do, decided on the canonical path (src/http/public-paths.ts), so
// no spelling of a path reaches further than the entry says. Real apps, both adapters.

const all = await frameworks();

const DEFAULT: PathFolding = { caseSensitive: false, strict: false };
const CASE_SENSITIVE: PathFolding = { caseSensitive: true, strict: false };
const STRICT: PathFolding = { caseSensitive: false, strict: true };

const API_KEY = 'ak_test_public_3e9a1c7b5d2f4a6c';

interface Closable {
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: string;
  /** What the app's last handler saw; null when it was never reached. */
  body: { path: string; method: string } | null;
}

/**
 * A real app per framework under the given routing: the middlewares, then a handler that
 * reports the path and method it received (for a preflight, with the CORS answer a CORS
 * middleware would give). Koa declares its routing with koaRouting(), as a Koa app must.
 */
async function serveRouted(
  framework: Framework,
  middlewares: unknown[],
  routing: PathFolding,
): Promise<{ port: number; close(): Promise<void> }> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  if (framework.name.startsWith('express')) {
    const express = (
      framework.name === 'express4' ? (await import('express4')).default : (await import('express')).default
    ) as typeof import('express');
    const app = express();
    app.set('case sensitive routing', routing.caseSensitive);
    app.set('strict routing', routing.strict);
    for (const middleware of middlewares) app.use(middleware as import('express').RequestHandler);
    app.use((req, res) => {
      if (req.method === 'OPTIONS') res.set('access-control-allow-headers', 'authorization, x-api-key');
      res.json({ path: req.path, method: req.method });
    });
    handler = app as unknown as typeof handler;
  } else {
    const Koa = (
      framework.name === 'koa2' ? (await import('koa2')).default : (await import('koa')).default
    ) as typeof import('koa');
    const app = new Koa();
    app.silent = true;
    if (routing !== DEFAULT) koaRouting(app, routing);
    for (const middleware of middlewares) app.use(middleware as import('koa').Middleware);
    app.use((ctx) => {
      if (ctx.method === 'OPTIONS') ctx.set('access-control-allow-headers', 'authorization, x-api-key');
      ctx.body = { path: ctx.path, method: ctx.method };
    });
    handler = app.callback();
  }
  const server = createServer(handler);
  await listenOnLoopback(server);
  const { port } = server.address() as AddressInfo;
  return { port, close: () => closeServer(server) };
}

/**
 * One request with the request line exactly as given, on a raw socket (supertest and fetch
 * would resolve dot segments, upper-case the method or refuse the target themselves).
 */
function send(
  port: number,
  method: string,
  target: string,
  headers: [string, string][] = [],
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
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
      const split = text.indexOf('\r\n\r\n');
      let body: Answer['body'] = null;
      try {
        const parsed = JSON.parse(text.slice(split + 4)) as Record<string, unknown>;
        if (typeof parsed.path === 'string') body = parsed as Answer['body'];
      } catch {
        // No JSON body: a HEAD, or Node's own 400 for a request line its parser refuses.
      }
      resolve({ status, headers: text.slice(0, split).toLowerCase(), body });
    });
  });
}

describe.each(all)('publicPaths prefixes and methods on $name', (framework) => {
  const lib = framework.lib;
  const closables: Closable[] = [];
  afterAll(async () => {
    for (const closable of closables.splice(0).reverse()) await closable.close();
  });
  const apiKey = (publicPaths: unknown[]) => {
    const middleware = lib.apiKeyAuth({
      keys: [{ name: 'ops', key: API_KEY }],
      location: { header: { name: 'x-api-key' } },
      publicPaths: publicPaths as never,
    });
    closables.push(middleware);
    return middleware;
  };
  const serve = async (publicPaths: unknown[], routing: PathFolding = DEFAULT) => {
    const server = await serveRouted(framework, [apiKey(publicPaths)], routing);
    closables.push(server);
    return server;
  };

  describe('a prefix "/docs/*" covers /docs and what lies below it, at a segment boundary', () => {
    // [target, status without a credential, the path the app then received]
    const table: [string, 200 | 400 | 401, string | null][] = [
      ['/docs', 200, '/docs'],
      ['/docs/', 200, '/docs/'],
      ['/docs/a', 200, '/docs/a'],
      ['/docs/a/b/c.html', 200, '/docs/a/b/c.html'],
      ['/docs/a?x=/admin', 200, '/docs/a'],
      ['/DOCS/A', 200, '/DOCS/A'],
      ['http://x/docs/a', 200, '/docs/a'],
      ['/docsX', 401, null],
      ['/docs.html', 401, null],
      ['/doc', 401, null],
      ['/', 401, null],
      ['/admin', 401, null],
      ['/admin/docs/x', 401, null],
    ];
    it.each(table)('%j: %i', async (target, status, path) => {
      const server = await serve(['/docs/*']);
      const answer = await send(server.port, 'GET', target);
      expect(answer.status).toBe(status);
      expect(answer.body?.path ?? null).toBe(path);
    });

    it('a credential still works everywhere, public or not', async () => {
      const server = await serve(['/docs/*']);
      for (const target of ['/docs/a', '/admin']) {
        expect((await send(server.port, 'GET', target, [['x-api-key', API_KEY]])).status, target).toBe(200);
      }
    });

    it('"/*" is every path', async () => {
      const server = await serve(['/*']);
      for (const target of ['/', '/admin', '/a/b'])
        expect((await send(server.port, 'GET', target)).status).toBe(200);
    });
  });

  describe('no encoded or folded spelling widens a prefix', () => {
    // Each of these would reach /admin (or a sibling of /docs) at a reader that decodes, merges
    // or resolves: the canonical path refuses them (400) or sees them outside /docs (401).
    const table: [string, 400 | 401][] = [
      ['/docs%2F..', 400],
      ['/docs%2f..%2fadmin', 400],
      ['/docs/..%2Fadmin', 400],
      ['/docs/../admin', 400],
      ['/docs/%2e%2e/admin', 400],
      ['/docs/.%2E/admin', 400],
      ['/docs/./../admin', 400],
      ['/docs//../admin', 400],
      ['//docs/x', 400],
      ['/docs\\..\\admin', 400],
      ['/docs%5C..%5Cadmin', 400],
      ['/docs;/../admin', 400],
      ['/docs%3B/admin', 400],
      ['/%64ocs/x', 400],
      ['/docs%252F..%252Fadmin', 400],
      ['/docs%00/x', 400],
      ['/docs#/x', 400],
      ['/docsadmin', 401],
      ['/docs%20/x', 401],
      ['/docs../admin', 401],
      ['/x/docs', 401],
    ];
    it.each(table)('%j: %i', async (target, status) => {
      const server = await serve(['/docs/*', { path: '/public/*', methods: ['GET'] }]);
      const answer = await send(server.port, 'GET', target);
      expect(answer.status).toBe(status);
      expect(answer.body).toBe(null);
    });

    it('with case-sensitive routing, "/DOCS/x" is not under "/docs/*"', async () => {
      const server = await serve(['/docs/*'], CASE_SENSITIVE);
      expect((await send(server.port, 'GET', '/docs/x')).status).toBe(200);
      expect((await send(server.port, 'GET', '/docs/X')).status).toBe(200);
      expect((await send(server.port, 'GET', '/DOCS/x')).status).toBe(401);
      expect((await send(server.port, 'GET', '/Docs')).status).toBe(401);
    });
  });

  describe('entries are folded as each router folds paths', () => {
    it('default routing: "/Docs/*" and "/Health" match every letter case', async () => {
      const server = await serve(['/Docs/*', '/Health']);
      for (const target of ['/docs/a', '/DOCS/A', '/Docs', '/health', '/HEALTH', '/health/']) {
        expect((await send(server.port, 'GET', target)).status, target).toBe(200);
      }
      expect((await send(server.port, 'GET', '/healthz')).status).toBe(401);
    });

    it('case-sensitive routing: only the spelling configured', async () => {
      const server = await serve(['/Docs/*', '/Health'], CASE_SENSITIVE);
      for (const [target, status] of [
        ['/Docs/a', 200],
        ['/Health', 200],
        ['/Health/', 200],
        ['/docs/a', 401],
        ['/DOCS/a', 401],
        ['/health', 401],
      ] as const) {
        expect((await send(server.port, 'GET', target)).status, target).toBe(status);
      }
    });

    it('strict routing: an exact path keeps its trailing slash, a prefix covers both', async () => {
      const server = await serve(['/Health', '/docs/*'], STRICT);
      for (const [target, status] of [
        ['/health', 200],
        ['/HEALTH', 200],
        ['/health/', 401],
        ['/docs', 200],
        ['/docs/', 200],
        ['/docs/a/', 200],
      ] as const) {
        expect((await send(server.port, 'GET', target)).status, target).toBe(status);
      }
    });
  });

  describe('methods', () => {
    const PREFLIGHT: [string, string][] = [
      ['origin', 'https://app.example'],
      ['access-control-request-method', 'GET'],
      ['access-control-request-headers', 'x-api-key'],
    ];

    it('{ methods: ["OPTIONS"] }: a CORS preflight passes on every path, a GET still needs a key', async () => {
      const server = await serve([{ methods: ['OPTIONS'] }]);
      for (const target of ['/admin', '/a/b', '/']) {
        const preflight = await send(server.port, 'OPTIONS', target, PREFLIGHT);
        expect(preflight.status, target).toBe(200);
        expect(preflight.body).toEqual({ path: target, method: 'OPTIONS' });
        expect(preflight.headers).toContain('access-control-allow-headers: authorization, x-api-key');
        const get = await send(server.port, 'GET', target, [['origin', 'https://app.example']]);
        expect(get.status, target).toBe(401);
        expect(get.body).toBe(null);
        expect((await send(server.port, 'GET', target, [['x-api-key', API_KEY]])).status).toBe(200);
      }
    });

    it('supertest sees the same: OPTIONS 200, GET 401', async () => {
      const server = await framework.serve([apiKey([{ methods: ['OPTIONS'] }])]);
      closables.push(server);
      expect((await request(server.url).options('/admin')).status).toBe(200);
      expect((await request(server.url).get('/admin')).status).toBe(401);
    });

    it('{ path, methods }: only those methods, only there; GET covers HEAD', async () => {
      const server = await serve([
        { path: '/docs/*', methods: ['GET'] },
        { path: '/hooks', methods: ['POST'] },
      ]);
      for (const [method, target, status] of [
        ['GET', '/docs/a', 200],
        ['HEAD', '/docs/a', 200],
        ['POST', '/docs/a', 401],
        ['DELETE', '/docs', 401],
        ['OPTIONS', '/docs', 401],
        ['GET', '/admin', 401],
        ['POST', '/hooks', 200],
        ['POST', '/HOOKS/', 200],
        ['GET', '/hooks', 401],
        ['POST', '/hooks/x', 401],
      ] as const) {
        expect((await send(server.port, method, target)).status, `${method} ${target}`).toBe(status);
      }
    });

    it('a request line in lower case never reaches the app: Node answers 400 itself', async () => {
      const server = await serve([{ methods: ['OPTIONS'] }]);
      const answer = await send(server.port, 'options', '/admin');
      expect(answer.status).toBe(400);
      expect(answer.body).toBe(null);
    });

    it('a path refused as ambiguous stays refused, whatever the method', async () => {
      const server = await serve([{ methods: ['OPTIONS'] }, '/*']);
      for (const target of ['/a/../admin', '/docs%2Fx', '//admin']) {
        const answer = await send(server.port, 'OPTIONS', target);
        expect(answer.status, target).toBe(400);
        expect(answer.body).toBe(null);
      }
    });

    it('anyAuth takes the same entries', async () => {
      const any = lib.anyAuth(
        lib.apiKeyAuth({
          keys: [{ name: 'ops', key: API_KEY }],
          location: { header: { name: 'x-api-key' } },
        }),
        { publicPaths: ['/docs/*', { methods: ['OPTIONS'] }] },
      );
      closables.push(any);
      const server = await serveRouted(framework, [any], DEFAULT);
      closables.push(server);
      expect((await send(server.port, 'GET', '/DOCS/x')).status).toBe(200);
      expect((await send(server.port, 'OPTIONS', '/admin')).status).toBe(200);
      expect((await send(server.port, 'GET', '/admin')).status).toBe(401);
      expect((await send(server.port, 'GET', '/docs/..%2Fadmin')).status).toBe(400);
    });
  });

  describe('under a mounted router, entries are absolute paths', () => {
    // Express `app.use('/api', router)`, Koa as koa-mount mounts (test/support/mount.ts): the
    // middleware sees the mount-relative path, and publicPaths is still the full path. (koa-mount
    // matches its prefix case-sensitively: "/API/..." never enters the mount on Koa.)
    it('"/api/docs/*" is public at /api/docs/..., "/docs/*" is not', async () => {
      const absolute = apiKey(['/api/docs/*', '/api/health']);
      const relative = apiKey(['/docs/*', '/health']);
      const servers = [
        await framework.serve([await mountAt(framework, '/api', absolute)]),
        await framework.serve([await mountAt(framework, '/api', relative)]),
      ];
      closables.push(...servers);
      const [mountedAbsolute, mountedRelative] = servers as [(typeof servers)[0], (typeof servers)[0]];
      for (const [target, absoluteStatus, relativeStatus] of [
        ['/api/docs/x', 200, 401],
        ['/api/DOCS', 200, 401],
        ['/api/health', 200, 401],
        ['/api/admin', 401, 401],
        ['/api/docsX', 401, 401],
      ] as const) {
        expect((await request(mountedAbsolute.url).get(target)).status, target).toBe(absoluteStatus);
        expect((await request(mountedRelative.url).get(target)).status, target).toBe(relativeStatus);
      }
      // What the app received after the mount is the full path.
      const passed = await request(mountedAbsolute.url).get('/api/docs/x');
      expect((passed.body as { originalUrl: string }).originalUrl).toBe('/api/docs/x');
    });
  });

  describe('start-up checks name the entry', () => {
    const table: [unknown, RegExp][] = [
      ['/health', /`publicPaths`: must be an array/],
      [[42], /`publicPaths\[0\]`: must be a path/],
      [['/health', 'docs/*'], /`publicPaths\[1\]`: must be a path starting with "\/"/],
      [['/docs*'], /`publicPaths\[0\]`: .*"\*" is allowed only as a last segment/],
      [['/a/*/b'], /`publicPaths\[0\]`: .*"\*" is allowed only/],
      [['/docs/**'], /`publicPaths\[0\]`: .*"\*" is allowed only/],
      [['/docs//*'], /`publicPaths\[0\]`: .*not a canonical path/],
      [['/docs/../*'], /`publicPaths\[0\]`: .*not a canonical path/],
      [['/docs%2F/*'], /`publicPaths\[0\]`: .*not a canonical path/],
      [['/%64ocs/*'], /`publicPaths\[0\]`: .*not a canonical path/],
      [['/docs?x/*'], /`publicPaths\[0\]`: .*not a canonical path/],
      [[{}], /`publicPaths\[0\]`: must give `path`, `methods` or both/],
      [[{ path: '/x', method: ['GET'] }], /`publicPaths\[0\]\.method`.*`methods`/],
      [[{ path: '/x', verbs: ['GET'] }], /`publicPaths\[0\]\.verbs`/],
      [[{ path: 42 }], /`publicPaths\[0\]\.path`: must be a path/],
      [[{ path: 'docs/*', methods: ['GET'] }], /`publicPaths\[0\]\.path`: must be a path/],
      [[{ methods: [] }], /`publicPaths\[0\]\.methods`: must be a non-empty array/],
      [[{ methods: 'OPTIONS' }], /`publicPaths\[0\]\.methods`: must be a non-empty array/],
      [
        ['/h', '/d/*', { methods: ['GET', 'options'] }],
        /`publicPaths\[2\]\.methods\[1\]`: .*write "OPTIONS"/,
      ],
      [[{ methods: ['FETCH'] }], /`publicPaths\[0\]\.methods\[0\]`: "FETCH" is not a method Node accepts/],
      [[{ methods: [null] }], /`publicPaths\[0\]\.methods\[0\]`: must be a method name/],
    ];
    it.each(table)('%j', (publicPaths, message) => {
      expect(() => apiKey(publicPaths as unknown[])).toThrow(message);
      expect(() =>
        lib.anyAuth(lib.apiKeyAuth({ keys: [{ name: 'ops', key: API_KEY }] }), {
          publicPaths: publicPaths as never,
        }),
      ).toThrow(message);
    });
  });
});
