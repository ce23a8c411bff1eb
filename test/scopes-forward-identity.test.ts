import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../examples/forward.js';
import type { Echo, Framework, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { rawGet } from './support/raw-request.js';

// requireScopes() and forwardIdentity() (issue 4; README "The identity", "Rejections") on both
// adapters, behind real inbound schemes (jwtAuth with real tokens, apiKeyAuth, basicAuth), on
// real servers; forwardIdentity is also checked end to end through a gateway that forwards to a
// real upstream server.

const all = await frameworks();

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256');
});

const READER_KEY = 'ak_reader_8c1f0e2d3b4a59687766554433';
const ADMIN_KEY = 'ak_admin_1a2b3c4d5e6f708192a3b4c5d6';
const NOSCOPE_KEY = 'ak_noscope_f0e1d2c3b4a5968778695a4b';
const TEAM_KEY = 'ak_team_0123abcd4567ef89aabbccddee';

const X_API_KEY = { header: { name: 'x-api-key' } } as const;

const sha1 = (password: string) => `{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/**
 * The 403 every missing scope gets: status, the challenge of the scheme that ran naming `scopes`
 * (`Bearer ...` or `ApiKey realm=..., header=...`: test/api-review.test.ts), JSON body.
 */
function expectInsufficientScope(res: request.Response, scopes: string) {
  expect(res.status).toBe(403);
  expect(res.headers['www-authenticate']).toMatch(/^(Bearer|ApiKey realm="api", header="x-api-key",) error=/);
  expect(res.headers['www-authenticate']?.endsWith(`error="insufficient_scope", scope="${scopes}"`)).toBe(
    true,
  );
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error: 'insufficient_scope', error_description: expect.any(String) });
}

/** Every value of header `name` (any case) in a raw header list. */
function rawValues(rawHeaders: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  }
  return values;
}

/** Asserts header `name` is absent everywhere the app (or a proxy) could read it. */
function expectAbsent(echo: Pick<Echo, 'headers' | 'rawHeaders'>, name: string) {
  expect(echo.headers[name]).toBeUndefined();
  expect(rawValues(echo.rawHeaders, name)).toEqual([]);
}

/** Asserts header `name` carries exactly `value`, once, in the parsed and the raw headers. */
function expectExactly(echo: Pick<Echo, 'headers' | 'rawHeaders'>, name: string, value: string) {
  expect(echo.headers[name]).toBe(value);
  expect(rawValues(echo.rawHeaders, name)).toEqual([value]);
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

/** Servers and middlewares a describe block opened, closed in its afterAll. */
function tracker(framework: Framework) {
  const servers: TestServer[] = [];
  const closables: { close(): Promise<void> }[] = [];
  const lib = framework.lib;
  return {
    async serve(middlewares: unknown[]): Promise<TestServer> {
      for (const middleware of middlewares) {
        const close = (middleware as { close?: unknown }).close;
        if (typeof close === 'function') closables.push(middleware as { close(): Promise<void> });
      }
      const server = await framework.serve(middlewares);
      servers.push(server);
      return server;
    },
    jwt: (mode: 'strict' | 'optional' = 'strict') =>
      lib.jwtAuth({ mode, issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(key) } }),
    apiKeys: (mode: 'strict' | 'optional' = 'strict') =>
      lib.apiKeyAuth({
        mode,
        location: X_API_KEY,
        keys: [
          { name: 'reader', key: READER_KEY, scopes: ['agents:read', 'keys:read'] },
          { name: 'admin', key: ADMIN_KEY }, // default scopes: ["*"]
          { name: 'noscope', key: NOSCOPE_KEY, scopes: [] },
          {
            name: 'team-bot',
            key: TEAM_KEY,
            scopes: ['keys:read'],
            metadata: { team: 'core', tier: 2, beta: true, tags: ['ci', 'prod'] },
          },
        ],
      }),
    basic: () => lib.basicAuth({ htpasswd: `carol:${sha1('carol-pw')}\n` }),
    async close() {
      for (const server of servers) await server.close();
      for (const closable of closables) await closable.close();
    },
  };
}

describe.each(all)('requireScopes on $name', (framework) => {
  const { lib } = framework;
  const opened = tracker(framework);
  afterAll(() => opened.close());

  // Granted (the token's space-separated `scope` claim) against required: exact matches only.
  const table = [
    { granted: 'agents:read agents:write', required: ['agents:read'], ok: true },
    { granted: 'agents:read agents:write', required: ['agents:write', 'agents:read'], ok: true },
    { granted: 'agents:read', required: ['agents:read', 'agents:write'], ok: false },
    { granted: 'agents:read', required: ['agents:readwrite'], ok: false },
    { granted: 'agents:readwrite', required: ['agents:read'], ok: false },
    { granted: 'agents', required: ['agents:read'], ok: false },
    { granted: 'agents:read:all', required: ['agents:read'], ok: false },
    { granted: 'xagents:read', required: ['agents:read'], ok: false },
    { granted: 'agents:*', required: ['agents:read'], ok: false },
    { granted: 'Agents:Read', required: ['agents:read'], ok: false },
    { granted: 'agents:read', required: ['AGENTS:READ'], ok: false },
    { granted: '', required: ['agents:read'], ok: false },
  ] as const;

  it.each(table)('JWT scope "$granted", required $required -> ok: $ok', async ({ granted, required, ok }) => {
    const server = await opened.serve([opened.jwt(), lib.requireScopes(...required)]);
    const token = await sign(key, { scope: granted });
    const res = await request(server.url).get('/echo').set('Authorization', `Bearer ${token}`);
    if (ok) {
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth?.subject).toBe('alice');
      return;
    }
    expectInsufficientScope(res, required.join(' '));
    expect(res.text).not.toContain(token);
  });

  it('reads scopes from the `scp` claim, as an array or a string', async () => {
    const server = await opened.serve([opened.jwt(), lib.requireScopes('agents:write')]);
    const asArray = await sign(key, { scope: undefined, scp: ['agents:read', 'agents:write'] });
    const asString = await sign(key, { scope: undefined, scp: 'agents:read agents:write' });
    const readOnly = await sign(key, { scope: undefined, scp: ['agents:read'] });
    for (const token of [asArray, asString]) {
      const res = await request(server.url).get('/').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth?.scopes).toEqual(['agents:read', 'agents:write']);
    }
    const refused = await request(server.url).get('/').set('Authorization', `Bearer ${readOnly}`);
    expectInsufficientScope(refused, 'agents:write');
  });

  it('checks API key record scopes; the default scopes ["*"] grant everything', async () => {
    const readServer = await opened.serve([opened.apiKeys(), lib.requireScopes('agents:read')]);
    const writeServer = await opened.serve([opened.apiKeys(), lib.requireScopes('agents:write')]);
    const manyServer = await opened.serve([
      opened.apiKeys(),
      lib.requireScopes('agents:read', 'billing:admin', 'x'),
    ]);
    const get = (server: TestServer, apiKey: string) => request(server.url).get('/').set('X-Api-Key', apiKey);

    const reader = await get(readServer, READER_KEY);
    expect(reader.status).toBe(200);
    expect((reader.body as Echo).auth).toMatchObject({ subject: 'reader', method: 'apiKey' });
    expectInsufficientScope(await get(writeServer, READER_KEY), 'agents:write');
    expectInsufficientScope(await get(manyServer, READER_KEY), 'agents:read billing:admin x');

    for (const server of [readServer, writeServer, manyServer]) {
      const admin = await get(server, ADMIN_KEY);
      expect(admin.status).toBe(200);
      expect((admin.body as Echo).auth?.scopes).toEqual(['*']);
    }
    expectInsufficientScope(await get(readServer, NOSCOPE_KEY), 'agents:read');
  });

  it('refuses a request without any identity with 401, not 403 (requireScopes alone, or after an optional scheme)', async () => {
    const alone = await opened.serve([lib.requireScopes('agents:read')]);
    const none = await request(alone.url).get('/');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(none.body).toEqual({ error: 'credentials_missing', error_description: expect.any(String) });
    const afterOptional = await opened.serve([opened.jwt('optional'), lib.requireScopes('agents:read')]);
    const anonymous = await request(afterOptional.url).get('/');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="api"');
  });

  it('needs every listed scope, unioned over the schemes that ran', async () => {
    // apiKeyAuth (X-Api-Key) then jwtAuth (Authorization): both succeed with different credentials.
    const both = await opened.serve([
      opened.apiKeys('optional'),
      opened.jwt('optional'),
      lib.requireScopes('keys:read', 'agents:write'),
    ]);
    const token = await sign(key, { scope: 'agents:write' });
    const res = await request(both.url)
      .get('/')
      .set('X-Api-Key', READER_KEY)
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const auth = (res.body as Echo).auth!;
    expect([...auth.scopes].sort()).toEqual(['agents:read', 'agents:write', 'keys:read']);
    expect(auth).toMatchObject({ subject: 'alice', method: 'jwt', apiKey: { name: 'reader' } });

    // Each scheme on its own lacks one of the two.
    const keyOnly = await request(both.url).get('/').set('X-Api-Key', READER_KEY);
    expectInsufficientScope(keyOnly, 'keys:read agents:write');
    const tokenOnly = await request(both.url).get('/').set('Authorization', `Bearer ${token}`);
    expectInsufficientScope(tokenOnly, 'keys:read agents:write');

    // The union still has to hold all of them.
    const more = await opened.serve([
      opened.apiKeys(),
      opened.jwt(),
      lib.requireScopes('keys:read', 'agents:write', 'agents:delete'),
    ]);
    const short = await request(more.url)
      .get('/')
      .set('X-Api-Key', READER_KEY)
      .set('Authorization', `Bearer ${token}`);
    expectInsufficientScope(short, 'keys:read agents:write agents:delete');
  });

  it('names each required scope once in the challenge', async () => {
    const server = await opened.serve([opened.apiKeys(), lib.requireScopes('a:b', 'c', 'a:b')]);
    expectInsufficientScope(await request(server.url).get('/').set('X-Api-Key', NOSCOPE_KEY), 'a:b c');
  });

  const badScopes: { label: string; scopes: string[] }[] = [
    { label: 'no scopes', scopes: [] },
    { label: 'an empty string', scopes: [''] },
    { label: 'a scope with a space', scopes: ['agents:read', 'agents write'] },
    { label: 'a scope with a double quote', scopes: ['agents"read'] },
    { label: 'a scope with a backslash', scopes: ['agents\\read'] },
    { label: 'a scope with a line break', scopes: ['agents:read\r\nx'] },
  ];

  it.each(badScopes)('throws ConfigError at start-up for $label', ({ scopes }) => {
    const error = thrown(() => lib.requireScopes(...scopes));
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain('requireScopes');
  });
});

describe.each(all)('forwardIdentity on $name', (framework) => {
  const { lib } = framework;
  const opened = tracker(framework);
  afterAll(() => opened.close());

  const USER_HEADERS = { 'x-user-id': 'auth.subject', 'x-user-email': 'jwt.email' };

  it('sets x-user-id and x-user-email from a real JWT', async () => {
    const server = await opened.serve([opened.jwt(), lib.forwardIdentity({ headers: USER_HEADERS })]);
    const token = await sign(key, { sub: 'alice', email: 'alice@example.com' });
    const res = await request(server.url).get('/').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expectExactly(echo, 'x-user-id', 'alice');
    expectExactly(echo, 'x-user-email', 'alice@example.com');
    expectAbsent(echo, 'authorization');
  });

  it('writes lists joined by commas and numbers and booleans as text', async () => {
    const server = await opened.serve([
      opened.jwt(),
      lib.forwardIdentity({
        headers: {
          'x-groups': 'jwt.groups',
          'x-scopes': 'auth.scopes',
          'x-level': 'jwt.level',
          'x-ratio': 'jwt.ratio',
          'x-verified': 'jwt.email_verified',
          'x-group-count': 'size(jwt.groups)',
          'x-is-admin': '"admins" in jwt.groups',
          'x-tenant-user': 'jwt.tenant + "/" + auth.subject',
        },
      }),
    ]);
    const token = await sign(key, {
      groups: ['admins', 'dev'],
      level: 42,
      ratio: 1.5,
      email_verified: false,
      tenant: 'acme',
    });
    const res = await request(server.url).get('/').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expectExactly(echo, 'x-groups', 'admins,dev');
    expectExactly(echo, 'x-scopes', 'read,write');
    expectExactly(echo, 'x-level', '42');
    expectExactly(echo, 'x-ratio', '1.5');
    expectExactly(echo, 'x-verified', 'false');
    expectExactly(echo, 'x-group-count', '2');
    expectExactly(echo, 'x-is-admin', 'true');
    expectExactly(echo, 'x-tenant-user', 'acme/alice');
  });

  it('reads apiKey metadata (nested and direct) and the API key name', async () => {
    const server = await opened.serve([
      opened.apiKeys(),
      lib.forwardIdentity({
        headers: {
          'x-team': 'apiKey.metadata.team',
          'x-team-direct': 'apiKey.team',
          'x-tier': 'apiKey.metadata.tier',
          'x-beta': 'apiKey.metadata.beta',
          'x-tags': 'apiKey.metadata.tags',
          'x-key-name': 'apiKey.name',
          'x-user-id': 'auth.subject',
          'x-method': 'auth.method',
        },
      }),
    ]);
    const res = await request(server.url).get('/').set('X-Api-Key', TEAM_KEY);
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expectExactly(echo, 'x-team', 'core');
    expectExactly(echo, 'x-team-direct', 'core');
    expectExactly(echo, 'x-tier', '2');
    expectExactly(echo, 'x-beta', 'true');
    expectExactly(echo, 'x-tags', 'ci,prod');
    expectExactly(echo, 'x-key-name', 'team-bot');
    expectExactly(echo, 'x-user-id', 'team-bot');
    expectExactly(echo, 'x-method', 'apiKey');
    expectAbsent(echo, 'x-api-key');
  });

  it('reads basicAuth.username', async () => {
    const server = await opened.serve([
      opened.basic(),
      lib.forwardIdentity({ headers: { 'x-user': 'basicAuth.username', 'x-method': 'auth.method' } }),
    ]);
    const res = await request(server.url).get('/').set('Authorization', basic('carol', 'carol-pw'));
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expectExactly(echo, 'x-user', 'carol');
    expectExactly(echo, 'x-method', 'basic');
    expectAbsent(echo, 'authorization');
  });

  it('overwrites spoofed headers (any case, sent several times) with exactly one value', async () => {
    const server = await opened.serve([opened.jwt(), lib.forwardIdentity({ headers: USER_HEADERS })]);
    const token = await sign(key, { sub: 'alice', email: 'alice@example.com' });
    const res = await rawGet(`${server.url}/`, {
      Authorization: `Bearer ${token}`,
      'X-User-Id': ['mallory', 'root'],
      'X-USER-EMAIL': 'mallory@evil.example',
    });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as Echo;
    expectExactly(echo, 'x-user-id', 'alice');
    expectExactly(echo, 'x-user-email', 'alice@example.com');
    expect(res.body).not.toContain('mallory');
  });

  it('removes a spoofed header when the configured name is mixed-case', async () => {
    const server = await opened.serve([
      opened.jwt(),
      lib.forwardIdentity({ headers: { 'X-User-Id': 'auth.subject' } }),
    ]);
    const token = await sign(key, { sub: 'alice' });
    const res = await rawGet(`${server.url}/`, {
      Authorization: `Bearer ${token}`,
      'x-user-id': 'mallory',
      'X-uSeR-iD': 'mallory2',
    });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as Echo;
    expectExactly(echo, 'x-user-id', 'alice');
    expect(res.body).not.toContain('mallory');
  });

  it('removes a spoofed header when its claim is absent', async () => {
    const server = await opened.serve([opened.jwt(), lib.forwardIdentity({ headers: USER_HEADERS })]);
    const token = await sign(key, { sub: 'alice' }); // no email claim
    const res = await request(server.url)
      .get('/')
      .set('Authorization', `Bearer ${token}`)
      .set('X-User-Email', 'mallory@evil.example');
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expectExactly(echo, 'x-user-id', 'alice');
    expectAbsent(echo, 'x-user-email');
    expect(res.text).not.toContain('mallory');
  });

  it('removes a spoofed header when the scheme its expression reads did not run', async () => {
    const server = await opened.serve([
      opened.jwt(),
      lib.forwardIdentity({ headers: { 'x-team': 'apiKey.metadata.team', 'x-user': 'basicAuth.username' } }),
    ]);
    const token = await sign(key);
    const res = await request(server.url)
      .get('/')
      .set('Authorization', `Bearer ${token}`)
      .set('X-Team', 'core')
      .set('x-USER', 'root');
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expectAbsent(echo, 'x-team');
    expectAbsent(echo, 'x-user');
  });

  it('removes spoofed headers when there is no identity at all', async () => {
    const alone = await opened.serve([lib.forwardIdentity({ headers: USER_HEADERS })]);
    const afterOptional = await opened.serve([
      opened.jwt('optional'),
      lib.forwardIdentity({ headers: { ...USER_HEADERS, 'x-scopes': 'auth.scopes' } }),
    ]);
    for (const server of [alone, afterOptional]) {
      const res = await rawGet(`${server.url}/`, {
        'X-User-Id': 'root',
        'x-user-email': ['root@example.com', 'admin@example.com'],
        'X-Scopes': '*',
        'X-Other': 'kept',
      });
      expect(res.status).toBe(200);
      const echo = JSON.parse(res.body) as Echo;
      expect(echo.auth).toBeNull();
      expectAbsent(echo, 'x-user-id');
      expectAbsent(echo, 'x-user-email');
      if (server === afterOptional) expectAbsent(echo, 'x-scopes');
      // Headers forwardIdentity was not configured for are left alone.
      expectExactly(echo, 'x-other', 'kept');
    }
  });

  it('never writes a value with CR, LF or NUL, and injects no header', async () => {
    const server = await opened.serve([opened.jwt(), lib.forwardIdentity({ headers: USER_HEADERS })]);
    for (const email of [
      'a@b.c\r\nX-Evil: 1',
      'a@b.c\nX-Evil: 1',
      'a@b.c\rX-Evil: 1',
      'a@b.c\u0000X-Evil: 1',
    ]) {
      const token = await sign(key, { sub: 'alice', email });
      const res = await request(server.url)
        .get('/')
        .set('Authorization', `Bearer ${token}`)
        .set('X-User-Email', 'mallory@evil.example');
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expectExactly(echo, 'x-user-id', 'alice'); // the other headers are still written
      expectAbsent(echo, 'x-user-email');
      expectAbsent(echo, 'x-evil');
      expect(echo.rawHeaders.join('\n')).not.toMatch(/x-evil/i);
      expect(res.text).not.toContain('mallory');
    }
  });

  it('percent-encodes the UTF-8 of a value outside ASCII (test/hardening-upstream.test.ts has the table)', async () => {
    const server = await opened.serve([opened.jwt(), lib.forwardIdentity({ headers: USER_HEADERS })]);
    const token = await sign(key, { sub: 'alice', email: 'ü€@example.com' });
    const res = await request(server.url)
      .get('/')
      .set('Authorization', `Bearer ${token}`)
      .set('X-User-Email', 'mallory@evil.example');
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expectExactly(echo, 'x-user-id', 'alice');
    expectExactly(echo, 'x-user-email', '%C3%BC%E2%82%AC@example.com');
  });

  it('leaves the header absent for values that are not text (a map, null, a list of lists or maps)', async () => {
    const server = await opened.serve([
      opened.jwt(),
      lib.forwardIdentity({
        headers: { 'x-address': 'jwt.address', 'x-nothing': 'jwt.nothing', 'x-numbers': 'jwt.numbers' },
      }),
    ]);
    const token = await sign(key, { address: { city: 'Oslo' }, nothing: null, numbers: [[1, 2], { a: 1 }] });
    const res = await request(server.url)
      .get('/')
      .set('Authorization', `Bearer ${token}`)
      .set('X-Address', 'spoof')
      .set('X-Nothing', 'spoof')
      .set('X-Numbers', 'spoof');
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    for (const name of ['x-address', 'x-nothing', 'x-numbers']) expectAbsent(echo, name);
  });

  it("keeps Node's headersDistinct view in step (credential stripped, headers removed and added)", async () => {
    // Node builds req.headersDistinct lazily from rawHeaders using the parser's original count:
    // read after portcullis edited rawHeaders, it must neither throw nor miss or keep a header.
    const seen: NodeJS.Dict<string[]>[] = [];
    const peek = framework.name.startsWith('express')
      ? (req: IncomingMessage, _res: unknown, next: () => void) => {
          seen.push(req.headersDistinct);
          next();
        }
      : async (ctx: { req: IncomingMessage }, next: () => Promise<unknown>) => {
          seen.push(ctx.req.headersDistinct);
          await next();
        };
    const server = await opened.serve([opened.jwt(), lib.forwardIdentity({ headers: USER_HEADERS }), peek]);
    const token = await sign(key, { sub: 'alice', email: 'alice@example.com' });
    const requests: Record<string, string | string[]>[] = [
      { Authorization: `Bearer ${token}` }, // rawHeaders shrinks, then grows
      { Authorization: `Bearer ${token}`, 'X-User-Id': ['mallory', 'root'], 'X-Other': 'kept' },
    ];
    for (const headers of requests) {
      const res = await rawGet(`${server.url}/`, headers);
      expect(res.status).toBe(200);
      const view = seen.at(-1)!;
      expect(view['x-user-id']).toEqual(['alice']);
      expect(view['x-user-email']).toEqual(['alice@example.com']);
      expect(view.authorization).toBeUndefined();
      expect(view['x-other']).toEqual(headers['X-Other'] === undefined ? undefined : ['kept']);
    }
    expect(seen).toHaveLength(2);
  });

  const badOptions: { label: string; headers: Record<string, string>; field: string }[] = [
    {
      label: 'an invalid header name',
      headers: { 'bad header': 'auth.subject' },
      field: 'headers["bad header"]',
    },
    {
      label: 'a header name with a colon',
      headers: { 'x-user:id': 'auth.subject' },
      field: 'headers["x-user:id"]',
    },
    {
      label: 'a CEL syntax error',
      headers: { 'x-user-id': 'auth.subject +' },
      field: 'headers["x-user-id"]',
    },
    {
      label: 'an unknown function',
      headers: { 'x-user-id': 'lookup(auth.subject)' },
      field: 'headers["x-user-id"]',
    },
    { label: 'an empty expression', headers: { 'x-user-id': '' }, field: 'headers["x-user-id"]' },
    { label: 'an empty headers map', headers: {}, field: '`headers`' },
  ];

  it.each(badOptions)('throws ConfigError at start-up for $label, naming the field', ({ headers, field }) => {
    const error = thrown(() => lib.forwardIdentity({ headers }));
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain(field);
  });
});

/** What the upstream server received. */
interface Received {
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
}

describe.each(all)('forwardIdentity through a gateway to a real upstream on $name', (framework) => {
  const { lib } = framework;
  const opened = tracker(framework);
  const received: Received[] = [];
  /** `headersDistinct` of each request as the gateway's final handler saw it. */
  const distinct: NodeJS.Dict<string[]>[] = [];
  const upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    received.push({ url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upstream: true }));
  });
  let upstreamUrl = '';
  let gateway: TestServer;

  /** The gateway's final handler: forwards what the app sees to the upstream (examples/forward.ts). */
  function forwarder(): unknown {
    if (framework.name.startsWith('express')) {
      return (req: IncomingMessage & { originalUrl: string }, res: ServerResponse) => {
        distinct.push(req.headersDistinct);
        forward(upstreamUrl, req, res, req.originalUrl);
      };
    }
    return (ctx: { req: IncomingMessage; res: ServerResponse; originalUrl: string; respond: boolean }) =>
      new Promise<void>((resolve) => {
        ctx.respond = false; // the forwarder writes the response itself
        distinct.push(ctx.req.headersDistinct);
        ctx.res.on('close', () => resolve());
        forward(upstreamUrl, ctx.req, ctx.res, ctx.originalUrl);
      });
  }

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await opened.serve([
      opened.jwt('optional'),
      lib.forwardIdentity({
        headers: { 'x-user-id': 'auth.subject', 'x-user-email': 'jwt.email', 'x-groups': 'jwt.groups' },
      }),
      forwarder(),
    ]);
  });
  afterAll(async () => {
    await opened.close();
    await new Promise<void>((resolve) => {
      upstream.closeAllConnections();
      upstream.close(() => resolve());
    });
  });

  /** Sends `headers` through the gateway; what the upstream received. */
  async function through(headers: Record<string, string | string[]>): Promise<Received> {
    const before = received.length;
    const res = await rawGet(`${gateway.url}/v1/agents?x=1`, headers);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ upstream: true });
    expect(received.length).toBe(before + 1);
    expect(distinct.length).toBe(before + 1);
    return received[received.length - 1]!;
  }

  const SPOOFED = {
    'X-User-Id': 'mallory',
    'X-USER-EMAIL': ['mallory@evil.example', 'root@evil.example'],
    'x-Groups': 'admins',
  };

  it('the upstream gets the identity headers, not the spoofed ones, and not Authorization', async () => {
    const token = await sign(key, { sub: 'alice', email: 'alice@example.com', groups: ['dev', 'ops'] });
    const got = await through({ Authorization: `Bearer ${token}`, ...SPOOFED });
    expect(got.url).toBe('/v1/agents?x=1');
    expectExactly(got, 'x-user-id', 'alice');
    expectExactly(got, 'x-user-email', 'alice@example.com');
    expectExactly(got, 'x-groups', 'dev,ops');
    expectAbsent(got, 'authorization');
    expect(JSON.stringify(got)).not.toMatch(/mallory|evil\.example|admins/);
    expect(JSON.stringify(got)).not.toContain(token);
    // Node's per-name view, for proxies that read it, agrees (it is built from rawHeaders).
    expect(distinct.at(-1)).toMatchObject({
      'x-user-id': ['alice'],
      'x-user-email': ['alice@example.com'],
      'x-groups': ['dev,ops'],
    });
    expect(distinct.at(-1)?.authorization).toBeUndefined();
  });

  it('the upstream gets none of them when the client has no identity or a claim is absent', async () => {
    const anonymous = await through({ ...SPOOFED });
    for (const name of ['x-user-id', 'x-user-email', 'x-groups']) expectAbsent(anonymous, name);

    const token = await sign(key, { sub: 'alice' }); // no email, no groups
    const partial = await through({ Authorization: `Bearer ${token}`, ...SPOOFED });
    expectExactly(partial, 'x-user-id', 'alice');
    expectAbsent(partial, 'x-user-email');
    expectAbsent(partial, 'x-groups');
    expectAbsent(partial, 'authorization');
    expect(JSON.stringify(partial)).not.toMatch(/mallory|evil\.example|admins/);
  });

  it('the upstream never sees a header injected through a claim', async () => {
    const token = await sign(key, { sub: 'alice', email: 'a@b.c\r\nX-Evil: 1' });
    const got = await through({ Authorization: `Bearer ${token}`, ...SPOOFED });
    expectExactly(got, 'x-user-id', 'alice');
    expectAbsent(got, 'x-user-email');
    expectAbsent(got, 'x-evil');
  });
});
