import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { displayUrl } from '../src/http/display-url.js';
import { MAX_JSON_BYTES } from '../src/http/fetch-json.js';
import { isLoopbackHost, unfetchableUrl } from '../src/http/loopback.js';
import type { JwtAuthOptions } from '../src/index.js';
import type { Echo } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { closeServer, freePort, listenOnLoopback } from './support/loopback.js';
import { eventually, type RecordingLogger, recorder } from './support/wait.js';

// Issue 11, "Key sources": what a hostile key server (or whoever answers for it) can make
// jwtAuth do. Redirects are never followed unless allowed, and then only on one origin; a body
// is cut at 1 MiB while it streams, under one deadline; plain http only to a loopback host
// decided from the parsed URL, for every URL fetched; no URL userinfo is ever shown.

const all = await frameworks();

let good: TestKey; // the issuer's key, published by the real key server
let evil: TestKey; // the attacker's key, published by the attacker's server
let evilSameKid: TestKey; // the attacker's key under the issuer's kid

beforeAll(async () => {
  [good, evil] = await Promise.all([makeKey('RS256'), makeKey('RS256')]);
  evilSameKid = await makeKey('RS256', good.kid);
});

// ---------------------------------------------------------------------------------------------
// A scriptable key server on 127.0.0.1: each path answers with its handler, every request is
// recorded, and what a streaming handler managed to write is observable.

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface KeyHost {
  origin: string;
  port: number;
  /** Paths asked, in order. */
  hits: string[];
  routes: Map<string, Handler>;
  close(): Promise<void>;
}

async function startKeyHost(routes: Record<string, Handler> = {}): Promise<KeyHost> {
  const host: KeyHost = {
    origin: '',
    port: 0,
    hits: [],
    routes: new Map(Object.entries(routes)),
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    host.hits.push(req.url ?? '');
    const handler = host.routes.get(req.url ?? '');
    if (handler === undefined) {
      res.statusCode = 404;
      res.end();
      return;
    }
    handler(req, res);
  });
  await listenOnLoopback(server);
  host.port = (server.address() as AddressInfo).port;
  host.origin = `http://127.0.0.1:${host.port}`;
  host.close = () => closeServer(server);
  return host;
}

const json =
  (document: unknown): Handler =>
  (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(document));
  };

const redirect =
  (status: number, location: string): Handler =>
  (_req, res) => {
    res.writeHead(status, { location });
    res.end('moved');
  };

const discoveryDoc = (issuer: string, jwksUri: string) => json({ issuer, jwks_uri: jwksUri });

/** What a streaming handler wrote before the client went away. */
interface Stream {
  written: number;
  closedEarly: boolean;
  finished: boolean;
}

/**
 * A JSON-looking body streamed chunked (no Content-Length), up to `total` bytes, respecting
 * back-pressure, stopping as soon as the client closes the socket.
 */
function endlessBody(stream: Stream, total: number, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    res.write('{"keys":[');
    res.on('close', () => {
      if (!stream.finished) stream.closedEarly = true;
    });
    const pump = () => {
      while (!res.destroyed && stream.written < total) {
        stream.written += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) {
        stream.finished = true;
        res.end(']}');
      }
    };
    pump();
  };
}

/** One byte every `everyMs`, forever (until the client leaves). */
function drip(stream: Stream, everyMs: number): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys":[');
    const timer = setInterval(() => {
      stream.written++;
      res.write(' ');
    }, everyMs);
    res.on('close', () => {
      clearInterval(timer);
      stream.closedEarly = true;
    });
  };
}

const newStream = (): Stream => ({ written: 0, closedEarly: false, finished: false });

function get(url: string, token?: string) {
  const req = request(url).get('/');
  if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
  return req;
}

const REDIRECT_STATUSES = [301, 302, 303, 307, 308] as const;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Pure URL rules (no framework involved).

describe('which hosts count as loopback (parsed by WHATWG URL first)', () => {
  const loopback = [
    'http://127.0.0.1/',
    'http://127.1/', // WHATWG rewrites the short IPv4 forms to dotted-quad
    'http://127.0.0.1./',
    'http://0x7f.0.0.1/',
    'http://0177.0.0.1/',
    'http://2130706433/',
    'http://%31%32%37.0.0.1/',
    'http://127.255.255.254/',
    'http://[::1]/',
    'http://[0:0:0:0:0:0:0:1]/',
    'http://localhost/',
    'http://LOCALHOST:8080/',
  ];
  const notLoopback = [
    'http://127.attacker.invalid/',
    'http://127.0.0.1.nip.io/',
    'http://127.0.0.1.attacker.invalid/',
    'http://localhost.attacker.invalid/',
    'http://attacker.localhost/',
    'http://localhost./',
    'http://[::ffff:127.0.0.1]/',
    'http://[::127.0.0.1]/',
    'http://[::]/',
    'http://0.0.0.0/',
    'http://10.0.0.1/',
    'http://126.255.255.255/',
    'http://128.0.0.1/',
    'http://id.example.com/',
    'http://127.0.0.1:80@attacker.invalid/',
    'http://attacker.invalid#@127.0.0.1/',
    'http://attacker.invalid\\@127.0.0.1/',
    'http://attacker.invalid?@127.0.0.1/',
  ];
  it.each(loopback)('%s is loopback', (text) => {
    expect(isLoopbackHost(new URL(text).hostname)).toBe(true);
    expect(unfetchableUrl(new URL(text))).toBeUndefined();
  });
  it.each(notLoopback)('%s is not loopback, so not fetched over http', (text) => {
    expect(isLoopbackHost(new URL(text).hostname)).toBe(false);
    expect(unfetchableUrl(new URL(text))).toMatch(/https|user name/);
  });
  it.each(['https://id.example.com/jwks', 'https://127.attacker.invalid/jwks'])(
    '%s may be fetched (https anywhere)',
    (text) => {
      expect(unfetchableUrl(new URL(text))).toBeUndefined();
    },
  );
  it.each([
    'ftp://127.0.0.1/jwks',
    'file:///etc/passwd',
    'data:application/json,{"keys":[]}',
    'ws://127.0.0.1/',
    'https://user:pw@id.example.com/',
    'https://user@id.example.com/',
    'https://:pw@id.example.com/',
    'http://user:pw@127.0.0.1/',
  ])('%s is never fetched', (text) => {
    expect(unfetchableUrl(new URL(text))).toEqual(expect.any(String));
  });
});

describe('displayUrl', () => {
  it.each([
    ['https://user:hunter2@id.example.com/jwks', 'https://***@id.example.com/jwks'],
    ['https://user@id.example.com/jwks', 'https://***@id.example.com/jwks'],
    ['https://:hunter2@id.example.com:8443/jwks', 'https://***@id.example.com:8443/jwks'],
    ['https://id.example.com/jwks?key=hunter2#frag', 'https://id.example.com/jwks?***'],
    ['http://127.0.0.1:3000/jwks.json', 'http://127.0.0.1:3000/jwks.json'],
    ['not a url hunter2', '(not a URL)'],
  ])('shows %s as %s', (text, shown) => {
    expect(displayUrl(text)).toBe(shown);
    expect(displayUrl(text)).not.toContain('hunter2');
  });
});

// ---------------------------------------------------------------------------------------------
// Through real apps, on both frameworks.

describe.each(all)('key sources under attack on $name', (framework) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const host = async (routes: Record<string, Handler> = {}) => {
    const made = await startKeyHost(routes);
    cleanups.push(() => made.close());
    return made;
  };
  const middleware = (options: JwtAuthOptions) => {
    const made = framework.lib.jwtAuth(options);
    cleanups.push(() => made.close());
    return made;
  };
  /** An app with `options`; warnings go to the returned logger. */
  const app = async (options: JwtAuthOptions) => {
    const logger = options.logger === undefined ? recorder() : (options.logger as RecordingLogger);
    const defaults = options.providers === undefined ? { audiences: [AUDIENCE] } : {};
    const server = await framework.serve([middleware({ ...defaults, logger, ...options })]);
    cleanups.push(() => server.close());
    return { url: server.url, logger };
  };
  const logOf = (logger: RecordingLogger) => logger.messages.join('\n');

  /** The response of a refused forged token: 503 with no keys, never a body with a secret. */
  const expectUnavailable = (res: request.Response) => {
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  };

  describe('redirects from the JWKS URL', () => {
    it.each(REDIRECT_STATUSES)(
      '%i to another origin: never followed, the forged token gets 503',
      async (status) => {
        const attacker = await host({ '/jwks.json': json(jwks(evil)) });
        const real = await host({ '/jwks.json': redirect(status, `${attacker.origin}/jwks.json`) });
        for (const allowSameOriginRedirects of [false, true]) {
          const { url, logger } = await app({
            issuer: ISSUER,
            jwks: { url: `${real.origin}/jwks.json` },
            allowSameOriginRedirects,
          });
          const res = await get(url, await sign(evil, { sub: 'admin' }));
          expectUnavailable(res);
          expect(logOf(logger)).toContain(`HTTP ${status} redirect to ${attacker.origin}/jwks.json`);
          expect(logOf(logger)).toContain('no keys yet');
        }
        expect(attacker.hits).toEqual([]);
      },
    );

    it.each(REDIRECT_STATUSES)(
      '%i once keys are held: the last good keys stay, forged tokens get 401',
      async (status) => {
        const attacker = await host({ '/jwks.json': json(jwks(evil, evilSameKid)) });
        const real = await host({ '/jwks.json': json(jwks(good)) });
        const { url, logger } = await app({
          issuer: ISSUER,
          jwks: { url: `${real.origin}/jwks.json`, cooldownSeconds: 0.05 },
        });
        expect((await get(url, await sign(good))).status).toBe(200);

        real.routes.set('/jwks.json', redirect(status, `${attacker.origin}/jwks.json`));
        // A new kid makes the source refetch: it meets the redirect and keeps what it has.
        const forged = await get(url, await sign(evil, { sub: 'admin' }));
        expect(forged.status).toBe(401);
        expect(forged.body.error).toBe('invalid_token');
        expect(real.hits.filter((path) => path === '/jwks.json').length).toBe(2);
        const sameKid = await get(url, await sign(evilSameKid, { sub: 'admin' }));
        expect(sameKid.status).toBe(401);
        expect((await get(url, await sign(good))).status).toBe(200);
        expect(logOf(logger)).toContain(`HTTP ${status} redirect`);
        expect(logOf(logger)).toContain('keeping the last good keys');
        expect(attacker.hits).toEqual([]);
      },
    );

    it.each([302, 307])(
      '%i on the same origin: refused by default, followed with allowSameOriginRedirects',
      async (status) => {
        const real = await host({
          '/jwks.json': redirect(status, '/keys/2026.json'),
          '/keys/2026.json': json(jwks(good)),
        });
        const off = await app({ issuer: ISSUER, jwks: { url: `${real.origin}/jwks.json` } });
        expectUnavailable(await get(off.url, await sign(good)));
        expect(logOf(off.logger)).toContain(
          `HTTP ${status} redirect to ${real.origin}/keys/2026.json not followed`,
        );
        expect(real.hits).not.toContain('/keys/2026.json');

        const on = await app({
          issuer: ISSUER,
          jwks: { url: `${real.origin}/jwks.json` },
          allowSameOriginRedirects: true,
        });
        const res = await get(on.url, await sign(good, { sub: 'bob' }));
        expect(res.status).toBe(200);
        expect((res.body as Echo).auth?.subject).toBe('bob');
        expect((await get(on.url, await sign(evil))).status).toBe(401);
      },
    );

    it('follows at most 3 same-origin hops, each re-checked', async () => {
      const chain = (hops: number): Record<string, Handler> => {
        const routes: Record<string, Handler> = { [`/hop${hops}`]: json(jwks(good)) };
        for (let i = 0; i < hops; i++) routes[`/hop${i}`] = redirect(302, `/hop${i + 1}`);
        return routes;
      };
      const three = await host(chain(3));
      const ok = await app({
        issuer: ISSUER,
        jwks: { url: `${three.origin}/hop0` },
        allowSameOriginRedirects: true,
      });
      expect((await get(ok.url, await sign(good))).status).toBe(200);

      const four = await host(chain(4));
      const tooMany = await app({
        issuer: ISSUER,
        jwks: { url: `${four.origin}/hop0` },
        allowSameOriginRedirects: true,
      });
      expectUnavailable(await get(tooMany.url, await sign(good)));
      expect(logOf(tooMany.logger)).toContain('more than 3 redirects');
      expect(four.hits).not.toContain('/hop4');
    });

    it('applies one deadline to the whole chain of hops', async () => {
      const slow =
        (location: string): Handler =>
        (_req, res) =>
          void setTimeout(() => redirect(302, location)(_req, res), 200);
      const real = await host({
        '/a': slow('/b'),
        '/b': slow('/c'),
        '/c': slow('/jwks.json'),
        '/jwks.json': json(jwks(good)),
      });
      const { url, logger } = await app({
        issuer: ISSUER,
        jwks: { url: `${real.origin}/a`, timeoutMs: 450 },
        allowSameOriginRedirects: true,
      });
      expectUnavailable(await get(url, await sign(good)));
      expect(logOf(logger)).toContain('timed out after 450 ms');
      expect(real.hits).not.toContain('/jwks.json');
    });

    it('stops a redirect loop', async () => {
      const loop = await host({ '/a': redirect(302, '/b'), '/b': redirect(307, '/a') });
      const self = await host({ '/jwks.json': redirect(301, '/jwks.json') });
      for (const [target, server] of [
        [`${loop.origin}/a`, loop],
        [`${self.origin}/jwks.json`, self],
      ] as const) {
        const { url, logger } = await app({
          issuer: ISSUER,
          jwks: { url: target },
          allowSameOriginRedirects: true,
        });
        expectUnavailable(await get(url, await sign(good)));
        const attempts = logger.messages.filter((line) => line.includes('more than 3 redirects')).length;
        expect(attempts).toBeGreaterThanOrEqual(1);
        // Each attempt is 4 requests (the first and 3 hops), then it waits for its retry.
        expect(server.hits.length).toBe(4 * attempts);
      }
    });

    it('refuses, even with the option, a hop to another origin after a same-origin hop', async () => {
      const attacker = await host({ '/jwks.json': json(jwks(evil)) });
      const real = await host({
        '/jwks.json': redirect(302, '/moved'),
        '/moved': redirect(302, `${attacker.origin}/jwks.json`),
      });
      const { url, logger } = await app({
        issuer: ISSUER,
        jwks: { url: `${real.origin}/jwks.json` },
        allowSameOriginRedirects: true,
      });
      expectUnavailable(await get(url, await sign(evil, { sub: 'admin' })));
      expect(logOf(logger)).toContain('another origin');
      expect(real.hits).toContain('/moved');
      expect(attacker.hits).toEqual([]);
    });

    it.each([
      ['another host name for the same socket', (port: number) => `http://localhost:${port}/jwks.json`],
      ['another scheme', (port: number) => `https://127.0.0.1:${port}/jwks.json`],
      ['a scheme-relative URL to another host', () => '//attacker.invalid/jwks.json'],
      ['another port', (port: number) => `http://127.0.0.1:${port + 1}/jwks.json`],
    ])('treats %s as another origin', async (_name, location) => {
      const real = await host({ '/keys.json': json(jwks(good)) });
      real.routes.set('/jwks.json', redirect(302, location(real.port)));
      const { url, logger } = await app({
        issuer: ISSUER,
        jwks: { url: `${real.origin}/jwks.json` },
        allowSameOriginRedirects: true,
      });
      expectUnavailable(await get(url, await sign(good)));
      expect(logOf(logger)).toContain('another origin');
      expect(real.hits.every((path) => path === '/jwks.json')).toBe(true);
    });

    it.each([
      ['no Location', undefined],
      ['a Location that is not a URL', 'http://[::1'],
    ])('refuses a redirect with %s', async (_name, location) => {
      const real = await host({
        '/jwks.json': (_req, res) => {
          res.writeHead(302, location === undefined ? {} : { location });
          res.end();
        },
      });
      const { url, logger } = await app({
        issuer: ISSUER,
        jwks: { url: `${real.origin}/jwks.json` },
        allowSameOriginRedirects: true,
      });
      expectUnavailable(await get(url, await sign(good)));
      expect(logOf(logger)).toContain('without a usable Location');
    });

    it.each([300, 304, 305, 306, 399])('treats HTTP %i as a failed fetch', async (status) => {
      const real = await host({
        '/jwks.json': (_req, res) => {
          res.writeHead(status, { location: '/keys.json' });
          res.end();
        },
        '/keys.json': json(jwks(good)),
      });
      const { url, logger } = await app({
        issuer: ISSUER,
        jwks: { url: `${real.origin}/jwks.json` },
        allowSameOriginRedirects: true,
      });
      expectUnavailable(await get(url, await sign(good)));
      expect(logOf(logger)).toContain(`HTTP ${status}`);
      expect(real.hits).not.toContain('/keys.json');
    });
  });

  describe('redirects during OIDC discovery', () => {
    it.each(REDIRECT_STATUSES)(
      '%i from the discovery URL to another origin: never followed',
      async (status) => {
        const attacker = await host();
        const real = await host();
        // The attacker's document even names the real issuer: only the redirect got it there.
        attacker.routes.set(
          '/.well-known/openid-configuration',
          discoveryDoc(real.origin, `${attacker.origin}/jwks.json`),
        );
        attacker.routes.set('/jwks.json', json(jwks(evil)));
        real.routes.set(
          '/.well-known/openid-configuration',
          redirect(status, `${attacker.origin}/.well-known/openid-configuration`),
        );
        for (const allowSameOriginRedirects of [false, true]) {
          const { url, logger } = await app({ issuer: real.origin, allowSameOriginRedirects });
          expectUnavailable(await get(url, await sign(evil, { sub: 'admin' }, { issuer: real.origin })));
          expect(logOf(logger)).toContain(
            `HTTP ${status} redirect to ${attacker.origin}/.well-known/openid-configuration`,
          );
        }
        expect(attacker.hits).toEqual([]);
      },
    );

    it.each(REDIRECT_STATUSES)(
      '%i from the jwks_uri the document names to another origin: never followed',
      async (status) => {
        const attacker = await host({ '/jwks.json': json(jwks(evil)) });
        const real = await host();
        real.routes.set(
          '/.well-known/openid-configuration',
          discoveryDoc(real.origin, `${real.origin}/jwks.json`),
        );
        real.routes.set('/jwks.json', redirect(status, `${attacker.origin}/jwks.json`));
        for (const allowSameOriginRedirects of [false, true]) {
          const { url, logger } = await app({ issuer: real.origin, allowSameOriginRedirects });
          expectUnavailable(await get(url, await sign(evil, { sub: 'admin' }, { issuer: real.origin })));
          expect(logOf(logger)).toContain(`HTTP ${status} redirect to ${attacker.origin}/jwks.json`);
        }
        expect(attacker.hits).toEqual([]);
      },
    );

    it('keeps the discovered keys when the jwks_uri later redirects elsewhere', async () => {
      const attacker = await host({ '/jwks.json': json(jwks(evil)) });
      const real = await host();
      real.routes.set(
        '/.well-known/openid-configuration',
        discoveryDoc(real.origin, `${real.origin}/jwks.json`),
      );
      real.routes.set('/jwks.json', json(jwks(good)));
      const { url } = await app({ issuer: real.origin, allowSameOriginRedirects: true });
      expect((await get(url, await sign(good, {}, { issuer: real.origin }))).status).toBe(200);
      real.routes.set('/jwks.json', redirect(302, `${attacker.origin}/jwks.json`));
      const forged = await get(url, await sign(evil, { sub: 'admin' }, { issuer: real.origin }));
      expect(forged.status).toBe(401);
      expect((await get(url, await sign(good, {}, { issuer: real.origin }))).status).toBe(200);
      expect(attacker.hits).toEqual([]);
    });

    it.each([302, 308])(
      '%i on the same origin, for the document and for jwks_uri: only with the option',
      async (status) => {
        const real = await host();
        real.routes.set('/.well-known/openid-configuration', redirect(status, '/oidc/config.json'));
        real.routes.set('/oidc/config.json', discoveryDoc(real.origin, `${real.origin}/jwks.json`));
        real.routes.set('/jwks.json', redirect(status, '/oidc/keys.json'));
        real.routes.set('/oidc/keys.json', json(jwks(good)));
        const token = await sign(good, {}, { issuer: real.origin });

        const off = await app({ issuer: real.origin });
        expectUnavailable(await get(off.url, token));
        expect(logOf(off.logger)).toContain(`HTTP ${status} redirect`);
        expect(real.hits).not.toContain('/oidc/config.json');

        const on = await app({ issuer: real.origin, allowSameOriginRedirects: true });
        expect((await get(on.url, token)).status).toBe(200);
        expect(real.hits).toContain('/oidc/keys.json');
      },
    );
  });

  describe('the body is cut while it streams, under one deadline', () => {
    /** A JWKS body the gateway must give up on: the first request gets 503, the log says why. */
    const cuts: {
      name: string;
      body: (stream: Stream) => Handler;
      timeoutMs?: number;
      logged: string;
      /** The gateway closed the connection before the body was over. */
      closes?: true;
      /** An endless body: the server got out only the cap plus socket buffers. */
      cutShort?: true;
    }[] = [
      {
        name: 'drops a chunked body without Content-Length soon after 1 MiB',
        body: (stream) => endlessBody(stream, 64 * MiB),
        timeoutMs: 30_000,
        logged: `larger than ${MAX_JSON_BYTES} bytes`,
        closes: true,
        cutShort: true,
      },
      {
        name: 'refuses a declared Content-Length over the cap before reading, even if the body is small',
        body: (stream) => (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * MiB) });
          res.write(JSON.stringify(jwks(good)));
          res.on('close', () => {
            stream.closedEarly = true;
          });
        },
        timeoutMs: 30_000,
        logged: `larger than ${MAX_JSON_BYTES} bytes`,
        closes: true,
      },
      {
        name: 'reads no further than a Content-Length that understates a large body',
        body: () => (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '40' });
          res.end(Buffer.alloc(4 * MiB, 0x20)); // Node does not hold the server to its own header
        },
        logged: 'not JSON',
      },
      {
        name: 'times out a slow drip inside the body, and closes the connection',
        body: (stream) => drip(stream, 50),
        timeoutMs: 400,
        logged: 'timed out after 400 ms',
        closes: true,
      },
      {
        name: 'times out a Content-Length that is never delivered',
        body: (stream) => (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
          res.write('{"keys":[');
          res.on('close', () => {
            stream.closedEarly = true;
          });
        },
        timeoutMs: 300,
        logged: 'timed out after 300 ms',
        closes: true,
      },
    ];

    // A loop, not it.each: the test names stay whole (it.each's $name quotes and cuts them).
    for (const { name, body, timeoutMs, logged, closes, cutShort } of cuts) {
      it(name, async () => {
        const stream = newStream();
        const real = await host({ '/jwks.json': body(stream) });
        const { url, logger } = await app({
          issuer: ISSUER,
          jwks: { url: `${real.origin}/jwks.json`, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
        });
        expectUnavailable(await get(url, await sign(good)));
        expect(logOf(logger)).toContain(logged);
        if (closes) expect(await eventually(() => stream.closedEarly)).toBe(true);
        if (cutShort) {
          expect(stream.finished).toBe(false);
          expect(stream.written).toBeLessThan(16 * MiB);
        }
      });
    }

    it('stops a gzip bomb at 1 MiB of decompressed bytes', async () => {
      const bomb = gzipSync(
        Buffer.concat([Buffer.from('{"keys":['), Buffer.alloc(32 * MiB, 0x20), Buffer.from(']}')]),
      );
      expect(bomb.length).toBeLessThan(MAX_JSON_BYTES);
      const real = await host({
        '/jwks.json': (_req, res) => {
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'content-length': bomb.length,
          });
          res.end(bomb);
        },
      });
      const { url, logger } = await app({ issuer: ISSUER, jwks: { url: `${real.origin}/jwks.json` } });
      expectUnavailable(await get(url, await sign(good)));
      expect(logOf(logger)).toContain(`larger than ${MAX_JSON_BYTES} bytes`);
    });

    it('applies one deadline to a discovery document that drips, and accepts exactly 1 MiB', async () => {
      const stream = newStream();
      const real = await host({ '/.well-known/openid-configuration': drip(stream, 50) });
      const { url, logger } = await app({ issuer: real.origin });
      // The discovery deadline is the default 5 s: the drip is cut by it, not left hanging.
      expectUnavailable(await get(url, await sign(good, {}, { issuer: real.origin })));
      expect(logOf(logger)).toContain('timed out after 5000 ms');
      expect(await eventually(() => stream.closedEarly)).toBe(true);

      const document = JSON.stringify(jwks(good));
      const padded = `${document.slice(0, -1)}${' '.repeat(MAX_JSON_BYTES - document.length)}}`;
      expect(Buffer.byteLength(padded)).toBe(MAX_JSON_BYTES);
      const exact = await host({ '/jwks.json': (_req, res) => res.end(padded) });
      const fits = await app({ issuer: ISSUER, jwks: { url: `${exact.origin}/jwks.json` } });
      expect((await get(fits.url, await sign(good))).status).toBe(200);
    }, 15_000);
  });

  describe('https everywhere except a loopback host, decided from the parsed URL', () => {
    const refusedHosts = [
      '127.attacker.invalid',
      '127.0.0.1.nip.io',
      'localhost.attacker.invalid',
      'attacker.localhost',
      'localhost.',
      '[::ffff:127.0.0.1]',
      '[::]',
      '0.0.0.0',
      '10.0.0.1',
      '128.0.0.1',
      'id.example.com',
    ];
    const acceptedHosts = [
      '127.0.0.1',
      '127.1',
      '0x7f.0.0.1',
      '2130706433',
      '127.9.9.9',
      '[::1]',
      'localhost',
      'LocalHost',
    ];

    const configError = (options: JwtAuthOptions): Error => {
      let error: unknown;
      try {
        middleware({ logger: recorder(), ...options });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      return error as Error;
    };

    it.each(refusedHosts)(
      'refuses http://%s as jwks.url and as a discovery issuer at start-up',
      (hostname) => {
        const jwksError = configError({ issuer: ISSUER, jwks: { url: `http://${hostname}:8080/jwks.json` } });
        expect(jwksError.message).toContain('`jwks.url`');
        expect(jwksError.message).toContain('https');
        const discoveryError = configError({ issuer: `http://${hostname}:8080` });
        expect(discoveryError.message).toContain('`jwks`');
        expect(discoveryError.message).toContain('https');
        const inProviders = configError({
          providers: [{ issuer: ISSUER, jwks: { url: `http://${hostname}/jwks.json` } }],
        });
        expect(inProviders.message).toContain('`providers[0].jwks.url`');
      },
    );

    it.each(acceptedHosts)('accepts http://%s as jwks.url and as a discovery issuer', async (hostname) => {
      const port = await freePort(); // nothing listens: the fetch fails, the options are fine
      expect(() =>
        middleware({
          issuer: ISSUER,
          jwks: { url: `http://${hostname}:${port}/jwks.json` },
          logger: recorder(),
        }),
      ).not.toThrow();
      expect(() => middleware({ issuer: `http://${hostname}:${port}`, logger: recorder() })).not.toThrow();
    });

    it.each([
      'ftp://127.0.0.1/jwks.json',
      'file:///etc/jwks.json',
      'data:application/json,{"keys":[]}',
      'ws://127.0.0.1/jwks',
    ])('refuses the non-http URL %s as jwks.url', (text) => {
      expect(configError({ issuer: ISSUER, jwks: { url: text } }).message).toContain('`jwks.url`');
    });

    it.each(['https://id.example.com/?tenant=a', 'https://id.example.com/#x', 'https://id.example.com?'])(
      'refuses the discovery issuer %s (an issuer has no query or fragment)',
      (issuer) => {
        expect(configError({ issuer }).message).toContain('query or a fragment');
      },
    );

    it.each([
      ...refusedHosts.map((hostname) => ({
        name: `http://${hostname}`,
        jwksUri: (port: number) => `http://${hostname}:${port}/jwks.json`,
        why: 'https',
      })),
      { name: 'file:', jwksUri: () => 'file:///etc/jwks.json', why: 'https' },
      { name: 'ftp:', jwksUri: () => 'ftp://127.0.0.1/jwks.json', why: 'https' },
      { name: 'not a URL', jwksUri: () => 'not a url', why: 'not a URL' },
      { name: 'a number', jwksUri: () => 42, why: 'missing' },
      { name: 'absent', jwksUri: () => undefined, why: 'missing' },
    ])('refuses a discovered jwks_uri that is $name at run time', async ({ jwksUri, why }) => {
      const real = await host({ '/jwks.json': json(jwks(good)) });
      real.routes.set(
        '/.well-known/openid-configuration',
        json({ issuer: real.origin, jwks_uri: jwksUri(real.port) }),
      );
      const { url, logger } = await app({ issuer: real.origin });
      expectUnavailable(await get(url, await sign(good, {}, { issuer: real.origin })));
      expect(logOf(logger)).toContain('"jwks_uri"');
      expect(logOf(logger)).toContain(why);
      expect(real.hits).not.toContain('/jwks.json');
    });

    it.each(['127.0.0.1', '127.1', '0x7f.0.0.1', '2130706433', '127.0.0.1.'])(
      'follows a discovered jwks_uri on http://%s (loopback)',
      async (hostname) => {
        const real = await host({ '/jwks.json': json(jwks(good)) });
        real.routes.set(
          '/.well-known/openid-configuration',
          discoveryDoc(real.origin, `http://${hostname}:${real.port}/jwks.json`),
        );
        const { url } = await app({ issuer: real.origin });
        expect((await get(url, await sign(good, {}, { issuer: real.origin }))).status).toBe(200);
      },
    );

    it('refuses, even with the option, a same-origin redirect that adds a user name and password', async () => {
      const real = await host({ '/keys.json': json(jwks(good)) });
      real.routes.set('/jwks.json', redirect(302, `http://user:hunter2@127.0.0.1:${real.port}/keys.json`));
      const { url, logger } = await app({
        issuer: ISSUER,
        jwks: { url: `${real.origin}/jwks.json` },
        allowSameOriginRedirects: true,
      });
      expectUnavailable(await get(url, await sign(good)));
      expect(logOf(logger)).toContain('user name or password');
      expect(logOf(logger)).not.toContain('hunter2');
      expect(real.hits).not.toContain('/keys.json');
    });
  });

  describe('no URL userinfo in any message, log line or response', () => {
    const PASSWORD = 'hunter2-Secret';
    const USER = 'svc-account';

    it.each([
      {
        name: 'jwks.url',
        field: 'jwks.url',
        options: { issuer: ISSUER, jwks: { url: `https://${USER}:${PASSWORD}@id.example.com/jwks` } },
      },
      {
        name: 'jwks.url on loopback',
        field: 'jwks.url',
        options: { issuer: ISSUER, jwks: { url: `http://${USER}:${PASSWORD}@127.0.0.1:1/jwks` } },
      },
      {
        name: 'jwks.url with only a password',
        field: 'jwks.url',
        options: { issuer: ISSUER, jwks: { url: `https://:${PASSWORD}@id.example.com/jwks` } },
      },
      {
        name: 'a discovery issuer',
        field: 'jwks',
        options: { issuer: `https://${USER}:${PASSWORD}@id.example.com` },
      },
      {
        name: 'a provider in providers',
        field: 'providers[1].jwks.url',
        options: {
          providers: [
            { issuer: ISSUER, jwks: { inline: jwks() } },
            {
              issuer: 'https://b.example.com',
              jwks: { url: `https://${USER}:${PASSWORD}@b.example.com/jwks` },
            },
          ],
        },
      },
    ])('refuses userinfo in $name at start-up without echoing it', ({ field, options }) => {
      const logger = recorder();
      let error: unknown;
      try {
        middleware({ logger, ...(options as JwtAuthOptions) });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      const message = (error as Error).message;
      expect(message).toContain(`\`${field}\``);
      expect(message).toContain('user name or password');
      expect(message).not.toContain(PASSWORD);
      expect(message).not.toContain(USER);
      expect(logOf(logger)).not.toContain(PASSWORD);
    });

    it('refuses userinfo in backendAuth azure.authorityHost without echoing it', () => {
      let error: unknown;
      try {
        framework.lib.backendAuth({
          azure: {
            tenantId: 'tenant',
            clientId: 'client',
            clientSecret: 'client-secret',
            authorityHost: `https://${USER}:${PASSWORD}@login.example.com`,
          },
          logger: recorder(),
        });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      expect((error as Error).message).toContain('`azure.authorityHost`');
      expect((error as Error).message).not.toContain(PASSWORD);
    });

    it.each([
      {
        name: 'a discovered jwks_uri',
        routes: (origin: string, port: number): Record<string, Handler> => ({
          '/.well-known/openid-configuration': discoveryDoc(
            origin,
            `http://${USER}:${PASSWORD}@127.0.0.1:${port}/jwks.json`,
          ),
        }),
      },
      {
        name: 'a redirect Location from the discovery URL',
        routes: (_origin: string, _port: number): Record<string, Handler> => ({
          '/.well-known/openid-configuration': redirect(
            302,
            `https://${USER}:${PASSWORD}@attacker.invalid/oidc?token=${PASSWORD}`,
          ),
        }),
      },
      {
        name: 'a redirect Location from the jwks_uri',
        routes: (origin: string, _port: number): Record<string, Handler> => ({
          '/.well-known/openid-configuration': discoveryDoc(origin, `${origin}/jwks.json`),
          '/jwks.json': redirect(307, `http://${USER}:${PASSWORD}@127.0.0.1:1/jwks.json`),
        }),
      },
    ])('never shows userinfo from $name (log, response)', async ({ routes }) => {
      const real = await host();
      for (const [path, handler] of Object.entries(routes(real.origin, real.port)))
        real.routes.set(path, handler);
      for (const allowSameOriginRedirects of [false, true]) {
        const { url, logger } = await app({ issuer: real.origin, allowSameOriginRedirects });
        const res = await get(url, await sign(good, {}, { issuer: real.origin }));
        expectUnavailable(res);
        const everything = [logOf(logger), JSON.stringify(res.body), JSON.stringify(res.headers)].join('\n');
        expect(logger.messages.length).toBeGreaterThan(0);
        expect(everything).not.toContain(PASSWORD);
        expect(everything).not.toContain(USER);
        expect(logOf(logger)).toContain('***@');
      }
    });
  });

  describe("the key server's answer", () => {
    it.each([
      ['the issuer with a trailing slash', (origin: string) => `${origin}/`],
      ['another host', () => 'https://attacker.invalid'],
      ['the issuer in upper case', (origin: string) => origin.toUpperCase()],
      ['no issuer', () => undefined],
      ['the issuer in an array', (origin: string) => [origin]],
    ])('refuses a discovery document naming %s as issuer (OIDC Discovery 4.3)', async (_name, named) => {
      const real = await host({ '/jwks.json': json(jwks(good)) });
      real.routes.set(
        '/.well-known/openid-configuration',
        json({ issuer: named(real.origin), jwks_uri: `${real.origin}/jwks.json` }),
      );
      const { url, logger } = await app({ issuer: real.origin });
      expectUnavailable(await get(url, await sign(good, {}, { issuer: real.origin })));
      expect(logOf(logger)).toContain('"issuer" does not match');
      expect(real.hits).not.toContain('/jwks.json');
    });

    it.each([
      ['HTML', '<html>login</html>'],
      ['an empty body', ''],
      ['JSON null', 'null'],
      ['a JSON string', '"keys"'],
      ['an array', '[]'],
      ['an object without keys', '{}'],
      ['keys as an object', '{"keys":{}}'],
      ['keys as a string', '{"keys":"x"}'],
      ['truncated JSON', '{"keys":['],
    ])(
      'treats %s as a failed fetch: 503 without keys, last good keys kept with them',
      async (_name, body) => {
        const real = await host({ '/jwks.json': json(jwks(good)) });
        const { url, logger } = await app({ issuer: ISSUER, jwks: { url: `${real.origin}/jwks.json` } });
        expect((await get(url, await sign(good))).status).toBe(200);
        real.routes.set('/jwks.json', (_req, res) => res.end(body));
        expect((await get(url, await sign(evil))).status).toBe(401); // refetch for the unknown kid fails
        expect((await get(url, await sign(good))).status).toBe(200);
        expect(logOf(logger)).toContain('keeping the last good keys');

        const fresh = await app({ issuer: ISSUER, jwks: { url: `${real.origin}/jwks.json` } });
        expectUnavailable(await get(fresh.url, await sign(good)));
      },
    );

    it('refuses a JWKS of more than 100 keys as a whole, and accepts 100', async () => {
      const filler = (count: number) =>
        Array.from({ length: count - 1 }, (_, i) => ({ ...good.publicJwk, kid: `filler-${i}` }));
      const tooMany = await host({ '/jwks.json': json({ keys: [...filler(101), good.publicJwk] }) });
      const refused = await app({ issuer: ISSUER, jwks: { url: `${tooMany.origin}/jwks.json` } });
      expectUnavailable(await get(refused.url, await sign(good)));
      expect(logOf(refused.logger)).toContain('at most 100');

      const hundred = await host({ '/jwks.json': json({ keys: [...filler(100), good.publicJwk] }) });
      const accepted = await app({ issuer: ISSUER, jwks: { url: `${hundred.origin}/jwks.json` } });
      expect((await get(accepted.url, await sign(good))).status).toBe(200);
      // A token without kid is tried against every fitting key: bounded by the cap.
      expect((await get(accepted.url, await sign(evil, {}, { kid: null }))).status).toBe(401);
    });

    it('skips RSA keys with a modulus over 8192 bits or a huge exponent', async () => {
      const modulus = randomBytes(1200); // 9600 bits, odd: a key Node imports, far too costly to use
      modulus[0]! |= 0x80;
      modulus[modulus.length - 1]! |= 1;
      const huge = {
        kty: 'RSA',
        kid: 'huge-n',
        alg: 'RS256',
        use: 'sig',
        n: modulus.toString('base64url'),
        e: 'AQAB',
      };
      const bigE = {
        ...good.publicJwk,
        kid: 'big-e',
        e: Buffer.from([1, 0, 0, 0, 0, 1]).toString('base64url'),
      };
      const real = await host({ '/jwks.json': json({ keys: [huge, bigE, good.publicJwk] }) });
      const { url, logger } = await app({ issuer: ISSUER, jwks: { url: `${real.origin}/jwks.json` } });
      expect((await get(url, await sign(good))).status).toBe(200);
      expect(logOf(logger)).toContain('skipped 2 unusable key(s)');
      const res = await get(url, await sign(good, {}, { kid: 'huge-n' }));
      expect(res.status).toBe(401);
    });

    it('keeps keys that share a kid apart by type: each verifies only its own algorithm', async () => {
      const ec = await makeKey('ES256', good.kid);
      const real = await host({ '/jwks.json': json(jwks(good, ec)) });
      const { url } = await app({ issuer: ISSUER, jwks: { url: `${real.origin}/jwks.json` } });
      expect((await get(url, await sign(good))).status).toBe(200);
      expect((await get(url, await sign(ec))).status).toBe(200);
      expect((await get(url, await sign(evilSameKid))).status).toBe(401);
    });
  });

  describe('allowSameOriginRedirects is a checked option', () => {
    it.each([
      {
        name: 'a non-boolean',
        field: 'allowSameOriginRedirects',
        options: {
          issuer: ISSUER,
          jwks: { url: 'https://id.example.com/jwks' },
          allowSameOriginRedirects: 'yes',
        },
      },
      {
        name: 'with a file',
        field: 'allowSameOriginRedirects',
        options: { issuer: ISSUER, jwks: { file: '/tmp/none.json' }, allowSameOriginRedirects: true },
      },
      {
        name: 'with inline keys',
        field: 'allowSameOriginRedirects',
        options: { issuer: ISSUER, jwks: { inline: { keys: [] } }, allowSameOriginRedirects: true },
      },
      {
        name: 'with a secret',
        field: 'allowSameOriginRedirects',
        options: {
          issuer: ISSUER,
          secret: 'x'.repeat(32),
          algorithms: ['HS256'],
          allowSameOriginRedirects: true,
        },
      },
      {
        name: 'inside jwks (it is a provider option, for discovery too)',
        field: 'jwks.allowSameOriginRedirects',
        options: {
          issuer: ISSUER,
          jwks: { url: 'https://id.example.com/jwks', allowSameOriginRedirects: true },
        },
      },
      {
        name: 'at the top level beside providers',
        field: 'allowSameOriginRedirects',
        options: {
          providers: [{ issuer: ISSUER, jwks: { url: 'https://id.example.com/jwks' } }],
          allowSameOriginRedirects: true,
        },
      },
    ])('refuses it $name', ({ field, options }) => {
      let error: unknown;
      try {
        middleware({ logger: recorder(), ...(options as unknown as JwtAuthOptions) });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      expect((error as Error).message).toContain(`\`${field}\``);
    });

    it('is accepted per provider', async () => {
      const real = await host({ '/jwks.json': redirect(302, '/keys.json'), '/keys.json': json(jwks(good)) });
      const { url } = await app({
        providers: [
          { issuer: 'https://other.example.com', jwks: { inline: jwks(evil) } },
          {
            issuer: ISSUER,
            audiences: [AUDIENCE],
            jwks: { url: `${real.origin}/jwks.json` },
            allowSameOriginRedirects: true,
          },
        ],
      });
      expect((await get(url, await sign(good))).status).toBe(200);
    });
  });
});
