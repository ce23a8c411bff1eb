import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthResult } from '../src/index.js';
import { type Framework, frameworks, type ServeOptions, type TestServer } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';

// Independent review of issue 11 ("What authorization and public paths see", "Scopes and
// refusals", "Credentials"): variants the issue did not show, on real Express 5 and Koa 3 apps,
// with raw sockets where a client library would normalise the request.

const all = await frameworks();

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256');
});

interface Raw {
  status: number;
  head: string;
  body: string;
  json: Record<string, unknown> | undefined;
}

/** One request written byte for byte on a socket: target, method and header lines as given. */
function rawSend(
  url: string,
  target: string,
  headers: [string, string][] = [],
  method = 'GET',
): Promise<Raw> {
  const { port, host } = new URL(url);
  return new Promise((resolve, reject) => {
    const lines = [`${method} ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
    for (const [name, value] of headers) lines.push(`${name}: ${value}`);
    const socket = connect(Number(port), '127.0.0.1', () =>
      socket.end(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      let body = text.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(head)) {
        let out = '';
        let rest = body;
        for (;;) {
          const eol = rest.indexOf('\r\n');
          const size = Number.parseInt(rest.slice(0, eol), 16);
          if (!(size > 0)) break;
          out += rest.slice(eol + 2, eol + 2 + size);
          rest = rest.slice(eol + 2 + size + 2);
        }
        body = out;
      }
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), head, body, json });
    });
  });
}

interface Closable {
  close(): Promise<void>;
}

function resources(framework: Framework) {
  const servers: TestServer[] = [];
  const closables: Closable[] = [];
  afterAll(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const closable of closables.splice(0)) await closable.close();
  });
  return {
    track<T extends Closable>(middleware: T): T {
      closables.push(middleware);
      return middleware;
    },
    async serve(middlewares: unknown[], options?: ServeOptions): Promise<TestServer> {
      const server = await framework.serve(middlewares, options);
      servers.push(server);
      return server;
    },
  };
}

const API_KEY = 'ak_review_5d4c3b2a19f8e7d6c5b4';
const X_API_KEY = { header: { name: 'x-api-key' } } as const;

/** Express's query parsers; Koa has one (node:querystring). */
function parsersOf(framework: Framework): (ServeOptions['queryParser'] | undefined)[] {
  return framework.name.startsWith('express') ? [undefined, 'simple', 'extended'] : [undefined];
}

// --- Finding 1: a query parameter a rule reads, in a spelling another parser folds into it ---

// [query, what an app or upstream may read as `tenant`]. The deny rule below does not err on an
// absent parameter, so each of these would pass it while the app (Express's qs parser for the
// bracket forms) or an upstream (ASP.NET: case; PHP/Rack: surrounding spaces) reads tenant=red.
const QUERY_VARIANTS: [string, string][] = [
  ['[tenant]=red', 'qs: tenant'],
  ['%5Btenant%5D=red', 'qs: tenant'],
  ['[tenant][]=red', 'qs: tenant[]'],
  ['[[tenant]=red', 'qs / Rack: tenant'],
  ['Tenant=red', 'ASP.NET: tenant'],
  ['TENANT=red', 'ASP.NET: tenant'],
  ['%54enant=red', 'ASP.NET: tenant'],
  ['+tenant=red', 'PHP: tenant'],
  ['%20tenant=red', 'PHP: tenant'],
  ['tenant+=red', 'trimmed: tenant'],
  ['tenant%00=red', 'PHP (NUL ends the name): tenant'],
  ['tenant=blue&[tenant]=red', 'qs: tenant=[blue, red]'],
  ['tenant=blue&Tenant=red', 'ASP.NET: tenant=blue,red'],
  // Rack before 3 and Python before 3.9.2 also split at `;`.
  ['tenant=blue;tenant=red', 'Rack: tenant=red'],
  ['x=1;tenant=red', 'Rack: tenant=red'],
  ['tenant=red;x', 'Rack: tenant=red (Node: "red;x")'],
  ['x=1;%74enant=red', 'Rack: tenant=red'],
];
const DENY_RED_TENANT = 'has(request.query.tenant) && request.query.tenant == "red"';

describe.each(all)('a query parameter a rule reads, in any spelling, on $name', (framework) => {
  const { lib } = framework;
  const { serve } = resources(framework);

  it.each(QUERY_VARIANTS)('?%s (%s) -> 400, under every query parser', async (query) => {
    for (const queryParser of parsersOf(framework)) {
      const server = await serve([lib.authorize({ rules: [{ deny: DENY_RED_TENANT }] })], { queryParser });
      const res = await rawSend(server.url, `/x?${query}`);
      expect(res.status, `${query} (${String(queryParser)})`).toBe(400);
      expect(res.json?.error).toBe('invalid_request');
    }
  });

  it('the bracket form is tenant=red to an Express app with the extended parser', async () => {
    if (!framework.name.startsWith('express')) return;
    const bare = await serve([], { queryParser: 'extended' });
    expect((await rawSend(bare.url, '/x?[tenant]=red')).json?.query).toEqual({ tenant: 'red' });
  });

  it.each([
    // 401: denied, and the request carries no identity (RFC 6750 3.1)
    ['tenant=red', 401],
    ['tenant=blue', 200],
    ['t%65nant=red', 401],
    ['tenants=red', 200],
    ['x[tenant]=red', 200],
    ['tenant.x=red', 200],
    ['tenant=blue&x=a;b', 200],
    ['x=a;b', 200],
  ] as const)('?%s is still decided by the rule: %i', async (query, status) => {
    for (const queryParser of parsersOf(framework)) {
      const server = await serve([lib.authorize({ rules: [{ deny: DENY_RED_TENANT }] })], { queryParser });
      expect((await rawSend(server.url, `/x?${query}`)).status, query).toBe(status);
    }
  });

  it('an allow rule on a parameter is not met by a second spelling beside the one it checks', async () => {
    const server = await serve([lib.authorize({ rules: ['request.query.tenant == "blue"'] })], {
      queryParser: framework.name.startsWith('express') ? 'extended' : undefined,
    });
    expect((await rawSend(server.url, '/x?tenant=blue')).status).toBe(200);
    for (const query of ['tenant=blue&[tenant]=red', 'tenant=blue&TENANT=red', 'tenant=blue&tenant%20=red']) {
      expect((await rawSend(server.url, `/x?${query}`)).status, query).toBe(400);
    }
  });

  it('a rule reading the whole query refuses two names that fold together', async () => {
    const server = await serve([
      lib.authorize({ rules: [{ deny: 'request.query.exists(k, request.query[k] == "red")' }] }),
    ]);
    expect((await rawSend(server.url, '/x?a=blue&b=blue')).status).toBe(200);
    expect((await rawSend(server.url, '/x?a=blue&A=red')).status).toBe(400);
    expect((await rawSend(server.url, '/x?a=blue&a+=red')).status).toBe(400);
    expect((await rawSend(server.url, '/x?[a]=red')).status).toBe(400);
    expect((await rawSend(server.url, '/x?a=blue;b=red')).status).toBe(400);
  });
});

// --- Finding 2: a header a rule reads, in a spelling an upstream folds into it ---------------

const DENY_RED_TEAM = '"x-team" in request.headers && request.headers["x-team"] == "red"';

describe.each(all)('a header a rule reads, in any spelling an upstream folds, on $name', (framework) => {
  const { lib } = framework;
  const { serve } = resources(framework);

  // CGI/WSGI/Rack/PHP name a header HTTP_ + upper case with every non-alphanumeric as "_":
  // each of these is HTTP_X_TEAM upstream, while Node (and the rule) keeps them apart.
  it.each([
    [[['x.team', 'red']]],
    [[['X.Team', 'red']]],
    [[['x~team', 'red']]],
    [[['x+team', 'red']]],
    [[["x'team", 'red']]],
    [[['x_team', 'red']]],
    [
      [
        ['x-team', 'blue'],
        ['x.team', 'red'],
      ],
    ],
    [
      [
        ['X-TEAM', 'blue'],
        ['x!team', 'red'],
      ],
    ],
  ] as [[string, string][]][])('%j -> 400', async (lines) => {
    const server = await serve([lib.authorize({ rules: [{ deny: DENY_RED_TEAM }] })]);
    const res = await rawSend(server.url, '/x', lines);
    expect(res.status).toBe(400);
    expect(res.json?.error).toBe('invalid_request');
  });

  it.each([
    [[['x-team', 'red']], 401],
    [[['X-Team', 'red']], 401],
    [[['x-team', 'blue']], 200],
    [[['x-teams', 'red']], 200],
    [[['xx-team', 'red']], 200],
  ] as [[string, string][], number][])('%j is still decided by the rule: %i', async (lines, status) => {
    const server = await serve([lib.authorize({ rules: [{ deny: DENY_RED_TEAM }] })]);
    expect((await rawSend(server.url, '/x', lines)).status).toBe(status);
  });

  it('a rule reading every header refuses a folded spelling too', async () => {
    const server = await serve([
      lib.authorize({ rules: [{ deny: 'request.headers.exists(k, request.headers[k] == "red")' }] }),
    ]);
    expect((await rawSend(server.url, '/x', [['x-a', 'blue']])).status).toBe(200);
    expect((await rawSend(server.url, '/x', [['x.a', 'blue']])).status).toBe(400);
    const twice: [string, string][] = [
      ['x-a', 'blue'],
      ['X.A', 'red'],
    ];
    expect((await rawSend(server.url, '/x', twice)).status).toBe(400);
  });
});

// --- Finding 3: a delegated refusal rendered by the framework's default error handler --------

/** Signs of a stack trace or of library internals in a response. */
const INTERNALS = /\bat \S+ \(|\.ts:\d+|node_modules|\/src\/|\/adapters\//;

describe.each(all)('a delegated refusal without an app error handler on $name', (framework) => {
  const { lib } = framework;
  const { serve, track } = resources(framework);

  it('shows no stack trace and no internals, whatever refused', async () => {
    const delegateErrors = true;
    const cases: [unknown[], [string, string][], string, number][] = [
      [
        [track(lib.apiKeyAuth({ keys: [{ name: 'a', key: API_KEY }], location: X_API_KEY, delegateErrors }))],
        [['x-api-key', 'nope']],
        '/x',
        401,
      ],
      [
        [track(lib.apiKeyAuth({ keys: [{ name: 'a', key: API_KEY }], location: X_API_KEY, delegateErrors }))],
        [],
        '/x',
        401,
      ],
      [
        [
          track(
            lib.apiKeyAuth({
              keys: [{ name: 'a', key: API_KEY }],
              location: X_API_KEY,
              delegateErrors,
              publicPaths: ['/p'],
            }),
          ),
        ],
        [],
        '/x/../p',
        400,
      ],
      [
        [
          track(
            lib.customAuth(
              { authenticate: () => AuthResult.denied('no') },
              { delegateErrors, logger: { warn() {}, info() {} } },
            ),
          ),
        ],
        [['authorization', 'Bearer t']],
        '/x',
        401,
      ],
      [[lib.authorize({ rules: [{ deny: 'request.path == "/x"' }], delegateErrors })], [], '/x', 401],
      [
        [lib.authorize({ rules: [{ deny: 'request.query.a == "1"' }], delegateErrors })],
        [],
        '/x?a=1&a=2',
        400,
      ],
      [[lib.requireScopes('read')], [], '/x', 401],
    ];
    for (const [middlewares, headers, target, status] of cases) {
      const server = await serve(middlewares);
      const res = await rawSend(server.url, target, headers);
      expect(res.status, target).toBe(status);
      expect(res.body, target).not.toMatch(INTERNALS);
    }
  });

  it('the AuthError the app receives carries no stack frames either', async () => {
    const keys = track(
      lib.apiKeyAuth({ keys: [{ name: 'a', key: API_KEY }], location: X_API_KEY, delegateErrors: true }),
    );
    const seen: unknown[] = [];
    const catcher = framework.name.startsWith('express')
      ? [keys]
      : [
          async (ctx: { status: number; body: unknown }, next: () => Promise<void>) => {
            try {
              await next();
            } catch (error) {
              seen.push(error);
              ctx.status = 401;
              ctx.body = { stack: (error as Error).stack };
            }
          },
          keys,
        ];
    if (framework.name.startsWith('express')) {
      const express = (await import('express')).default;
      const app = express();
      app.use(keys as unknown as import('express').RequestHandler);
      app.use(((error: Error, _req: unknown, res: import('express').Response, _next: unknown) => {
        seen.push(error);
        res.status(401).json({ stack: error.stack });
      }) as import('express').ErrorRequestHandler);
      const { createServer } = await import('node:http');
      const { listenOnLoopback, closeServer } = await import('./support/loopback.js');
      const server = createServer(app);
      await listenOnLoopback(server);
      const { port } = server.address() as import('node:net').AddressInfo;
      const res = await rawSend(`http://127.0.0.1:${port}`, '/x', [['x-api-key', 'nope']]);
      await closeServer(server);
      expect(res.json?.stack).toBe('AuthError: The API key is not valid');
    } else {
      const server = await serve(catcher);
      const res = await rawSend(server.url, '/x', [['x-api-key', 'nope']]);
      expect(res.json?.stack).toBe('AuthError: The API key is not valid');
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(lib.AuthError);
  });
});

// --- Every scheme and step at once, against hostile requests: never a 500, a stack or a secret --

const PASSWORD = 'pw-review-6a1f';
const HTPASSWD = `alice:{SHA}${createHash('sha1').update(PASSWORD).digest('base64')}\n`;
const SESAME = 'custom-review-token-88a1';

describe.each(all)('hostile requests against a full chain on $name', (framework) => {
  const { lib } = framework;
  const { serve, track } = resources(framework);
  let url = '';
  let token = '';

  beforeAll(async () => {
    token = await sign(key, { sub: 'jo', scope: 'read', groups: ['admins'] });
    const any = lib.anyAuth as unknown as (...args: unknown[]) => Closable;
    const chain = track(
      any(
        track(lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(key) } })),
        track(lib.basicAuth({ htpasswd: HTPASSWD })),
        track(
          lib.apiKeyAuth({
            keys: [{ name: 'k', key: API_KEY, scopes: ['read'] }],
            location: { queryParameter: { name: 'api_key' } },
          }),
        ),
        track(
          lib.customAuth(
            {
              authenticate: (credential: string) =>
                credential === SESAME
                  ? AuthResult.ok({ subject: 'c', scopes: ['read'] })
                  : AuthResult.denied(`bad ${credential}`),
            },
            { location: { cookie: { name: 'sid' } }, logger: { warn() {}, info() {} } },
          ),
        ),
        { mode: 'optional', publicPaths: ['/health'] },
      ),
    );
    const rules = lib.authorize({
      rules: [
        { deny: 'request.path == "/admin"' },
        { deny: 'has(request.query.tenant) && request.query.tenant == "red"' },
        { deny: '"x-team" in request.headers && request.headers["x-team"] == "red"' },
        { allow: 'request.path == "/health" || has(auth.subject)' },
      ],
    });
    url = (await serve([chain, rules, lib.requireScopes('read')])).url;
  });

  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const hostile: [string, string, [string, string][]][] = [
    ['GET', '/x', [['authorization', 'Bearer \u00ff\u00fe']]],
    ['GET', '/x', [['authorization', `Basic ${'A'.repeat(20000)}`]]],
    ['GET', '/x', [['authorization', 'Basic ====']]],
    ['GET', '/x', [['authorization', 'Basic Og==']]],
    ['GET', '/x', [['authorization', basic('alice\u0000', PASSWORD)]]],
    ['GET', '/x', [['authorization', basic('alice', `${PASSWORD}\u0000`)]]],
    ['GET', '/x', [['authorization', `Bearer ${'a.'.repeat(5000)}`]]],
    ['GET', '/x', [['authorization', 'Bearer e30.e30.']]],
    ['GET', '/x', [['authorization', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.']]],
    ['GET', '/x', [['cookie', `sid=${'%'.repeat(3000)}`]]],
    [
      'GET',
      '/x',
      [
        ['cookie', 'sid="'],
        ['cookie', 'sid=a'],
      ],
    ],
    ['GET', '/x', [['cookie', `SID=${SESAME}`]]],
    ['GET', `/x?api_key=${'%E0%A4%A'.repeat(500)}`, []],
    ['GET', `/x?${'a[b]'.repeat(2000)}=1`, []],
    ['GET', `/x?tenant=${'%'.repeat(50)}`, []],
    ['GET', `/${'%c3%a9'.repeat(2000)}`, []],
    ['GET', `/${'a/'.repeat(4000)}`, []],
    ['GET', '/x', Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'] as [string, string])],
    ['GET', '/x', [['x-team', 'r'.repeat(12000)]]],
    ['OPTIONS', '*', []],
    ['HEAD', '/admin', [['authorization', `Bearer ${'x'.repeat(10)}`]]],
    ['GET', 'http://[::1]/admin?tenant=red', []],
    ['GET', 'http://a:b@127.0.0.1/x', []],
    ['DELETE', `/x?api_key=${API_KEY}&api_key=${API_KEY}`, []],
    ['GET', '/health?tenant=red&tenant=blue', []],
  ];

  it.each([
    ['/x', () => [['authorization', `Bearer ${token}`]], 200],
    ['/x', () => [['authorization', basic('alice', PASSWORD)]], 403],
    ['/x', () => [['cookie', `a=1; sid=${SESAME}`]], 200],
    [`/x?api_key=${API_KEY}`, () => [], 200],
    ['/x', () => [], 401],
    ['/health', () => [], 401],
    ['/admin', () => [['authorization', `Bearer ${token}`]], 403],
    ['/ADMIN/', () => [['authorization', `Bearer ${token}`]], 403],
    ['/x?tenant=red', () => [['authorization', `Bearer ${token}`]], 403],
    ['/x?[tenant]=red', () => [['authorization', `Bearer ${token}`]], 400],
    [
      '/x',
      () => [
        ['authorization', `Bearer ${token}`],
        ['x.team', 'red'],
      ],
      400,
    ],
  ] as [string, () => [string, string][], number][])('sanity: %s -> %i', async (target, headers, status) => {
    const res = await rawSend(url, target, headers());
    expect(res.status).toBe(status);
    for (const secret of [PASSWORD, SESAME, API_KEY, token]) expect(res.body).not.toContain(secret);
  });

  it.each(hostile)('%s %s: no 500, no stack, no secret', async (method, target, headers) => {
    const res = await rawSend(url, target, headers, method);
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(500);
    expect(res.head + res.body).not.toMatch(INTERNALS);
    for (const secret of [PASSWORD, SESAME, API_KEY, token])
      expect(res.head + res.body).not.toContain(secret);
  });
});

// --- Finding 4: an int index reads a map's key "0" (cel-js), so a map could pass for a list --

describe.each(all)('a claim indexed as a list on $name', (framework) => {
  const { lib } = framework;
  const { serve, track } = resources(framework);

  it.each([
    [['admins'], 200],
    [['admins', 'x'], 200],
    [{ '0': 'admins' }, 403],
    [{ 0: 'admins', length: 1 }, 403],
    ['admins', 403],
    [[['admins']], 403],
    [null, 403],
  ] as [unknown, number][])(
    'groups %j with allow jwt.groups[0] == "admins" -> %i',
    async (groups, status) => {
      const jwt = track(lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(key) } }));
      const server = await serve([jwt, lib.authorize({ rules: ['jwt.groups[0] == "admins"'] })]);
      const token = await sign(key, { sub: 'u', groups });
      const res = await rawSend(server.url, '/x', [['authorization', `Bearer ${token}`]]);
      expect(res.status).toBe(status);
      if (status === 403) expect(res.json?.error).toBe('access_denied');
    },
  );

  it('a string key still reads a map', async () => {
    const jwt = track(lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(key) } }));
    const server = await serve([jwt, lib.authorize({ rules: ['jwt.org["0"] == "acme"'] })]);
    const token = await sign(key, { sub: 'u', org: { '0': 'acme' } });
    expect((await rawSend(server.url, '/x', [['authorization', `Bearer ${token}`]])).status).toBe(200);
  });
});

// --- Finding 5: letters a case-insensitive upstream folds into ASCII ---------------------------

describe.each(all)('a path with a letter that case-folds into ASCII on $name', (framework) => {
  const { lib } = framework;
  const { serve, track } = resources(framework);

  // IIS/ASP.NET routing compares with OrdinalIgnoreCase, Java with equalsIgnoreCase: `ı` is
  // `I` there, `İ` is `i`, so each of these is /admin (or /health) to such an upstream.
  const folding = ['/adm%C4%B1n', '/ADM%C4%B1N', '/adm%C4%B0n', '/%C5%BFecret', '/admin/%E2%84%AAeys'];

  it.each(folding)('%s is refused by a deny rule on the path (400)', async (target) => {
    const server = await serve([lib.authorize({ rules: [{ deny: 'request.path.startsWith("/admin")' }] })]);
    const res = await rawSend(server.url, target);
    expect(res.status).toBe(400);
    expect(res.json?.error).toBe('invalid_request');
  });

  it('and by public paths, as an ambiguous path', async () => {
    const keys = track(
      lib.apiKeyAuth({ keys: [{ name: 'a', key: API_KEY }], location: X_API_KEY, publicPaths: ['/health'] }),
    );
    const server = await serve([keys]);
    expect((await rawSend(server.url, '/health')).status).toBe(200);
    expect((await rawSend(server.url, '/he%C4%B1lth')).status).toBe(400);
  });

  it.each(['/caf%C3%A9', '/stra%C3%9Fe', '/%C3%85ngstr%C3%B6m', '/%CE%A3%CE%B9'])(
    '%s (no ASCII fold) is still an ordinary path',
    async (target) => {
      const server = await serve([lib.authorize({ rules: [{ deny: 'request.path.startsWith("/admin")' }] })]);
      expect((await rawSend(server.url, target)).status).toBe(200);
    },
  );
});

// --- Regression tables: what held under review -------------------------------------------------

describe.each(all)('customAuth, every answer a provider can give, on $name', (framework) => {
  const { lib } = framework;
  const { serve, track } = resources(framework);
  const SECRET = 'tok-SECRET-review-1';
  const quiet = { warn() {}, info() {} };
  // [answer, status with requireScopes("read") after it]: an identity without the scope is
  // 403, anything that is not an AuthResult.ok is the fixed 401.
  const answers: [string, () => unknown, number][] = [
    ['ok()', () => AuthResult.ok(), 403],
    ['ok({ scopes: ["read"] })', () => AuthResult.ok({ scopes: ['read'] }), 200],
    [
      'ok({ scopes: "read" }) (not a list)',
      () => AuthResult.ok({ scopes: 'read' as unknown as string[] }),
      403,
    ],
    ['ok({ scopes: ["*"] }) (not a wildcard)', () => AuthResult.ok({ scopes: ['*'] }), 403],
    ['ok({ scopes: ["read write"] })', () => AuthResult.ok({ scopes: ['read write'] }), 403],
    [
      'ok({ method: "apiKey", scopes: ["*"] })',
      () => AuthResult.ok({ method: 'apiKey', scopes: ['*'] }),
      403,
    ],
    ['denied(reason with the token)', () => AuthResult.denied(`bad token ${SECRET}`), 401],
    ['denied()', () => AuthResult.denied(), 401],
    ['a look-alike plain object', () => ({ ok: true, identity: { subject: 'x', scopes: ['read'] } }), 401],
    ['undefined', () => undefined, 401],
    [
      'throws with the token',
      () => {
        throw new Error(`${SECRET} db://u:p@h`);
      },
      401,
    ],
    [
      'rejects with an exposed error',
      () => Promise.reject(Object.assign(new Error(SECRET), { status: 200, expose: true })),
      401,
    ],
    ['ok() with an unknown key', () => AuthResult.ok({ scope: ['read'] } as never), 401],
  ];

  it.each(answers)('%s -> %i, nothing of the token in the response', async (_label, answer, status) => {
    for (const delegateErrors of [false, true]) {
      const custom = track(
        lib.customAuth({ authenticate: answer as never }, { delegateErrors, logger: quiet }),
      );
      const server = await serve([custom, lib.requireScopes('read')]);
      const res = await rawSend(server.url, '/x', [['authorization', `Bearer ${SECRET}`]]);
      expect(res.status).toBe(status);
      expect(res.head + res.body).not.toContain(SECRET);
      expect(res.body).not.toMatch(INTERNALS);
      if (!delegateErrors && status === 401) {
        expect(res.json).toEqual({
          error: 'invalid_token',
          error_description: 'The credential was not accepted',
        });
      }
    }
  });
});

describe.each(all)('anyAuth in either order and every mode on $name', (framework) => {
  const { lib } = framework;
  const { serve, track } = resources(framework);
  let token = '';
  beforeAll(async () => {
    token = await sign(key, { sub: 'jo', scope: 'read' });
  });
  const any = lib.anyAuth as unknown as (...args: unknown[]) => Closable;
  const members = () => [
    track(lib.apiKeyAuth({ keys: [{ name: 'k', key: API_KEY, scopes: ['read'] }], location: X_API_KEY })),
    track(lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(key) } })),
  ];

  // [label, header lines, status in strict, optional, permissive]
  const table: [string, () => [string, string][], number, number, number][] = [
    [
      'a valid key, Authorization twice',
      () => [
        ['x-api-key', API_KEY],
        ['authorization', `Bearer ${token}`],
        ['authorization', 'Bearer x'],
      ],
      400,
      400,
      400,
    ],
    [
      'a valid token, the key twice',
      () => [
        ['authorization', `Bearer ${token}`],
        ['x-api-key', API_KEY],
        ['x-api-key', API_KEY],
      ],
      400,
      400,
      400,
    ],
    [
      'a valid token, the key as X_Api_Key and x-api-key',
      () => [
        ['authorization', `Bearer ${token}`],
        ['X_Api_Key', 'a'],
        ['x-api-key', API_KEY],
      ],
      400,
      400,
      400,
    ],
    ['a valid token in mixed-case scheme', () => [['authorization', `bEaReR ${token}`]], 200, 200, 200],
    ['Bearer<TAB>token alone', () => [['authorization', `Bearer\t${token}`]], 401, 401, 200],
    ['Bearer with spaces only', () => [['authorization', 'Bearer   ']], 401, 401, 200],
    ['a padded token', () => [['authorization', `Bearer ${token}=`]], 401, 401, 200],
    [
      'one comma-joined Authorization',
      () => [['authorization', `Bearer ${token}, Bearer ${token}`]],
      401,
      401,
      200,
    ],
    ['nothing', () => [], 401, 200, 200],
  ];

  it.each(table)(
    '%s -> strict %i, optional %i, permissive %i',
    async (_label, lines, strict, optional, permissive) => {
      for (const [mode, status] of [
        ['strict', strict],
        ['optional', optional],
        ['permissive', permissive],
      ] as const) {
        for (const order of [0, 1]) {
          const list = members();
          if (order === 1) list.reverse();
          const server = await serve([track(any(...list, { mode }))]);
          const res = await rawSend(server.url, '/x', lines());
          expect(res.status, `${mode}, order ${order}`).toBe(status);
          expect(res.body).not.toContain(API_KEY);
          if (status === 200 && res.json?.auth !== null) {
            expect(res.body).not.toContain(token);
          }
        }
      }
    },
  );
});

describe.each(all)('HEAD is routed as GET: the README form of a rule on reads on $name', (framework) => {
  const { lib } = framework;
  const { serve } = resources(framework);

  it.each(['GET', 'HEAD'])('%s /admin is denied by request.method in ["GET", "HEAD"]', async (method) => {
    const server = await serve([
      lib.authorize({ rules: [{ deny: 'request.method in ["GET", "HEAD"] && request.path == "/admin"' }] }),
    ]);
    expect((await rawSend(server.url, '/ADMIN/', [], method)).status).toBe(401);
    expect((await rawSend(server.url, '/other', [], method)).status).toBe(200);
  });
});
