import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Echo, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { MODES_TABLE } from './support/modes-table.js';
import { rawGet } from './support/raw-request.js';

const all = await frameworks();
let key: TestKey;
let other: TestKey;
let valid: string;
let forged: string;

beforeAll(async () => {
  key = await makeKey('RS256');
  other = await makeKey('RS256', key.kid); // same kid, different key: a forgery
  valid = await sign(key, { groups: ['admins'] });
  forged = await sign(other);
});

const options = (extra: Record<string, unknown> = {}) => ({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: jwks(key) },
  ...extra,
});

describe.each(all)('jwtAuth modes on $name', (framework) => {
  const servers: Record<string, TestServer> = {};
  beforeAll(async () => {
    for (const mode of ['strict', 'optional', 'permissive'] as const) {
      servers[mode] = await framework.serve([framework.lib.jwtAuth(options({ mode }))]);
    }
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
  });

  // README "Modes", cell by cell.
  const table = [...MODES_TABLE] as const;

  it.each(table)('$mode with $credential credential -> $status', async ({ mode, credential, status }) => {
    const token = credential === 'valid' ? valid : credential === 'invalid' ? forged : undefined;
    const req = request(servers[mode]!.url).get('/echo');
    if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
    const res = await req;
    expect(res.status).toBe(status);
    if (status !== 200) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.error).toBe(credential === 'none' ? 'credentials_missing' : 'invalid_token');
      expect(res.text).not.toContain(forged);
      return;
    }
    const echo = res.body as Echo;
    if (credential === 'valid') {
      expect(echo.auth).toMatchObject({ subject: 'alice', method: 'jwt', scopes: ['read', 'write'] });
      expect(echo.auth?.jwt).toMatchObject({ sub: 'alice', iss: ISSUER, groups: ['admins'] });
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.rawHeaders.map((h) => h.toLowerCase())).not.toContain('authorization');
    } else if (credential === 'invalid') {
      expect(echo.auth).toBeNull();
      expect(echo.headers.authorization).toBe(`Bearer ${forged}`);
    } else {
      expect(echo.auth).toBeNull();
    }
  });

  it('challenges a missing token without an error code (RFC 6750 section 3)', async () => {
    const res = await request(servers.strict!.url).get('/');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(res.body).toEqual({ error: 'credentials_missing', error_description: expect.any(String) });
  });

  it('challenges an invalid token with error="invalid_token"', async () => {
    const res = await request(servers.strict!.url).get('/').set('Authorization', `Bearer ${forged}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/,
    );
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('matches the Bearer prefix case-insensitively', async () => {
    const res = await request(servers.strict!.url).get('/').set('Authorization', `bEaReR ${valid}`);
    expect(res.status).toBe(200);
  });

  it('treats another scheme in Authorization as no credential', async () => {
    const strict = await request(servers.strict!.url).get('/').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(strict.status).toBe(401);
    expect(strict.body.error).toBe('credentials_missing');
    const optional = await request(servers.optional!.url).get('/').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(optional.status).toBe(200);
    expect((optional.body as Echo).headers.authorization).toBe('Basic dXNlcjpwYXNz');
  });

  it('refuses an empty bearer token', async () => {
    const res = await request(servers.optional!.url).get('/').set('Authorization', 'Bearer');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"');
  });

  it('answers two Authorization headers with 400 invalid_request, in every mode', async () => {
    for (const mode of ['strict', 'optional', 'permissive']) {
      const res = await rawGet(`${servers[mode]!.url}/`, {
        authorization: [`Bearer ${valid}`, `Bearer ${valid}`],
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error).toBe('invalid_request');
    }
  });
});

describe.each(all)('jwtAuth locations, identity and options on $name', (framework) => {
  const opened: TestServer[] = [];
  const serve = async (middlewares: unknown[], errorHandler = false) => {
    const server = await framework.serve(middlewares, { errorHandler });
    opened.push(server);
    return server;
  };
  afterAll(async () => {
    for (const server of opened) await server.close();
  });

  it('reads a query parameter and removes it from the URL the app sees', async () => {
    const server = await serve([
      framework.lib.jwtAuth(options({ location: { queryParameter: { name: 'access_token' } } })),
    ]);
    const res = await request(server.url).get(`/items?a=1&access_token=${valid}&b=%20x`);
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expect(echo.auth?.subject).toBe('alice');
    expect(echo.url).toBe('/items?a=1&b=%20x');
    expect(echo.originalUrl).toBe('/items?a=1&b=%20x');
    expect(echo.query).toEqual({ a: '1', b: ' x' });
    expect(JSON.stringify(echo)).not.toContain(valid);
  });

  it('drops the question mark when the token was the only parameter', async () => {
    const server = await serve([
      framework.lib.jwtAuth(options({ location: { queryParameter: { name: 'token' } } })),
    ]);
    const res = await request(server.url).get(`/items?token=${valid}`);
    expect(res.status).toBe(200);
    expect((res.body as Echo).url).toBe('/items');
  });

  it('refuses a query token sent twice', async () => {
    const server = await serve([
      framework.lib.jwtAuth(options({ location: { queryParameter: { name: 'token' } } })),
    ]);
    const res = await request(server.url).get(`/items?token=${valid}&token=${valid}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('reads a cookie and removes only that cookie', async () => {
    const server = await serve([
      framework.lib.jwtAuth(options({ location: { cookie: { name: 'session' } } })),
    ]);
    const res = await request(server.url).get('/').set('Cookie', `theme=dark; session=${valid}; lang=en`);
    expect(res.status).toBe(200);
    const echo = res.body as Echo;
    expect(echo.auth?.subject).toBe('alice');
    expect(echo.headers.cookie).toBe('theme=dark; lang=en');
  });

  it('removes the Cookie header when the token was its only cookie', async () => {
    const server = await serve([
      framework.lib.jwtAuth(options({ location: { cookie: { name: 'session' } } })),
    ]);
    const res = await request(server.url).get('/').set('Cookie', `session=${valid}`);
    expect(res.status).toBe(200);
    expect((res.body as Echo).headers.cookie).toBeUndefined();
  });

  it('reads a custom header with its own prefix', async () => {
    const server = await serve([
      framework.lib.jwtAuth(options({ location: { header: { name: 'x-id-token', prefix: 'JWT ' } } })),
    ]);
    const res = await request(server.url).get('/').set('X-Id-Token', `JWT ${valid}`);
    expect(res.status).toBe(200);
    expect((res.body as Echo).headers['x-id-token']).toBeUndefined();
    const missing = await request(server.url).get('/').set('Authorization', `Bearer ${valid}`);
    expect(missing.status).toBe(401);
  });

  it('skips public paths, compared canonically, and only those', async () => {
    const server = await serve([framework.lib.jwtAuth(options({ publicPaths: ['/health'] }))]);
    expect((await request(server.url).get('/health')).status).toBe(200);
    expect((await request(server.url).get('/health?x=1')).status).toBe(200);
    // Express and @koa/router route `/health/` to `/health` by default (test/hardening-paths).
    expect((await request(server.url).get('/health/')).status).toBe(200);
    expect((await request(server.url).get('/healthz')).status).toBe(401);
    // Encoded unreserved characters are ambiguous (the router and an upstream disagree): 400.
    expect((await request(server.url).get('/%68ealth')).status).toBe(400);
  });

  it('takes scopes from scp (array) and from a configured claim', async () => {
    const server = await serve([framework.lib.jwtAuth(options())]);
    const scp = await sign(key, { scope: undefined, scp: ['a', 'b'] });
    const res = await request(server.url).get('/').set('Authorization', `Bearer ${scp}`);
    expect((res.body as Echo).auth?.scopes).toEqual(['a', 'b']);

    const custom = await serve([framework.lib.jwtAuth(options({ scopeClaim: 'permissions' }))]);
    const token = await sign(key, { permissions: ['x:read'] });
    const res2 = await request(custom.url).get('/').set('Authorization', `Bearer ${token}`);
    expect((res2.body as Echo).auth?.scopes).toEqual(['x:read']);
  });

  it('keeps the identity free of the raw token', async () => {
    const server = await serve([framework.lib.jwtAuth(options())]);
    const res = await request(server.url).get('/').set('Authorization', `Bearer ${valid}`);
    expect(res.status).toBe(200);
    expect(JSON.stringify((res.body as Echo).auth)).not.toContain(valid);
  });

  it('hands the error to the app when delegateErrors is set', async () => {
    const server = await serve([framework.lib.jwtAuth(options({ delegateErrors: true }))], true);
    const res = await request(server.url).get('/');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ handledBy: 'app', code: 'credentials_missing' });
  });
});
