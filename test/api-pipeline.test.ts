import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthResult, type CredentialLocation } from '../src/index.js';
import { AUTH_ERROR_CODES, type AuthErrorCode } from '../src/refusals.js';
import type { Echo, Framework } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { freePort } from './support/loopback.js';
import { headerLines, rawGet } from './support/raw-request.js';
import { type RecordingUpstream, startRecordingUpstream } from './support/recording-upstream.js';
import { anyAuthOf, resourcesOf } from './support/resources.js';

// Issue 12: one inbound pipeline over a thinner scheme contract, one catalogue of refusals.
// - 401/407 and WWW-/Proxy-Authenticate follow from the location, for every scheme;
// - the challenge's `error` is the body's `error`, for every scheme and location kind; a Bearer
//   challenge only at Authorization / Proxy-Authorization with the Bearer prefix;
// - every code of AuthErrorCode is sent by some request;
// - each refusal's reason reaches logger.debug, never a credential;
// - anyAuth, now the same pipeline over several schemes, behaves as before.

const all = await frameworks();

let key: TestKey;
let valid: string;
let expired: string;
let noAudience: string;
let noExpiry: string;
let htpasswd: string;

const API_KEY = 'ak_live_7f3c9a1e5b2d4c6e8f0a';
const SESAME = 'open-sesame-0123456789';
const basic = (user: string, password: string) =>
  Buffer.from(`${user}:${password}`, 'utf8').toString('base64');

beforeAll(async () => {
  key = await makeKey('RS256');
  valid = await sign(key);
  expired = await sign(key, { exp: Math.floor(Date.now() / 1000) - 3600 }, { expiresIn: null });
  noAudience = await sign(key, {}, { audience: null });
  noExpiry = await sign(key, {}, { expiresIn: null });
  const vectors = await readFile(new URL('./fixtures/vectors.htpasswd', import.meta.url), 'utf8');
  // dave: {SHA}, password "hunter2".
  htpasswd = `${vectors
    .split('\n')
    .filter((line) => line.startsWith('dave:'))
    .join('\n')}\n`;
});

/** A logger that keeps every line, by level. */
function capturing() {
  const lines = { warn: [] as string[], info: [] as string[], debug: [] as string[] };
  return {
    lines,
    logger: {
      warn: (message: string) => lines.warn.push(message),
      info: (message: string) => lines.info.push(message),
      debug: (message: string) => lines.debug.push(message),
    },
  };
}

type SchemeName = 'jwt' | 'apiKey' | 'custom' | 'basic';

const jwtOptions = (extra: Record<string, unknown> = {}) => ({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: jwks(key) },
  ...extra,
});

function make(framework: Framework, scheme: SchemeName, extra: Record<string, unknown> = {}) {
  const lib = framework.lib;
  switch (scheme) {
    case 'jwt':
      return lib.jwtAuth(jwtOptions(extra));
    case 'apiKey':
      return lib.apiKeyAuth({ keys: [{ name: 'ci', key: API_KEY, scopes: ['read'] }], ...extra });
    case 'custom':
      return lib.customAuth(
        {
          authenticate: (credential: string) =>
            credential === SESAME ? AuthResult.ok({ subject: 'ali' }) : AuthResult.denied(),
        },
        extra,
      );
    case 'basic':
      return lib.basicAuth({ htpasswd, ...extra });
  }
}

/** The good credential of each scheme, and one it refuses. */
const credentials = (scheme: SchemeName) =>
  ({
    jwt: { good: valid, bad: `${valid.slice(0, -4)}AAAA` },
    apiKey: { good: API_KEY, bad: 'ak_live_not-a-key' },
    custom: { good: SESAME, bad: 'closed-sesame' },
    basic: { good: basic('dave', 'hunter2'), bad: basic('dave', 'wrong') },
  })[scheme];

interface LocationCase {
  name: string;
  location: CredentialLocation;
  /** The request headers and path that carry `credential` there. */
  send(credential: string): { path: string; headers: Record<string, string> };
}

function locations(scheme: SchemeName): LocationCase[] {
  const word = scheme === 'basic' ? 'Basic' : 'Bearer';
  return [
    {
      name: `authorization (${word})`,
      location: { header: { name: 'authorization', prefix: `${word} ` } },
      send: (credential) => ({ path: '/echo', headers: { authorization: `${word} ${credential}` } }),
    },
    {
      name: `proxy-authorization (${word})`,
      location: { header: { name: 'proxy-authorization', prefix: `${word} ` } },
      send: (credential) => ({ path: '/echo', headers: { 'proxy-authorization': `${word} ${credential}` } }),
    },
    {
      name: 'header x-credential',
      location: { header: { name: 'x-credential' } },
      send: (credential) => ({ path: '/echo', headers: { 'x-credential': credential } }),
    },
    {
      name: 'query parameter access_token',
      location: { queryParameter: { name: 'access_token' } },
      send: (credential) => ({ path: `/echo?access_token=${encodeURIComponent(credential)}`, headers: {} }),
    },
    {
      name: 'cookie sid',
      location: { cookie: { name: 'sid' } },
      send: (credential) => ({ path: '/echo', headers: { cookie: `sid=${credential}` } }),
    },
  ];
}

/** The one challenge of a response: its header (by status), its scheme and its error attribute. */
function challengeOf(res: { status: number; rawHeaders: string[] }) {
  const name = res.status === 407 ? 'proxy-authenticate' : 'www-authenticate';
  const other = res.status === 407 ? 'www-authenticate' : 'proxy-authenticate';
  const lines = headerLines(res.rawHeaders, name);
  expect(lines).toHaveLength(1);
  expect(headerLines(res.rawHeaders, other)).toEqual([]);
  const line = lines[0]!;
  return { line, scheme: line.split(' ')[0], error: /(?:^|, )error="([^"]*)"/.exec(line)?.[1] };
}

const SCHEMES: SchemeName[] = ['jwt', 'apiKey', 'custom', 'basic'];

describe.each(all)('one inbound pipeline on $name', (framework) => {
  const r = resourcesOf(framework);
  afterAll(() => r.closeAll());

  describe('401 or 407 follows from the location, for every scheme', () => {
    it.each(SCHEMES)(
      '%s on Proxy-Authorization: 407 and Proxy-Authenticate; stripped when right',
      async (scheme) => {
        const at = locations(scheme)[1]!;
        const server = await r.serve([r.track(make(framework, scheme, { location: at.location }))]);
        const { good, bad } = credentials(scheme);

        const missing = await rawGet(`${server.url}/echo`);
        expect(missing.status).toBe(407);
        expect(JSON.parse(missing.body).error).toBe('credentials_missing');
        expect(challengeOf(missing).error).toBeUndefined();

        const wrong = at.send(bad);
        const refused = await rawGet(`${server.url}${wrong.path}`, wrong.headers);
        expect(refused.status).toBe(407);
        const challenge = challengeOf(refused);
        if (scheme !== 'basic') expect(challenge.error).toBe(JSON.parse(refused.body).error);

        const right = at.send(good);
        const accepted = await rawGet(`${server.url}${right.path}`, right.headers);
        expect(accepted.status).toBe(200);
        const echo = JSON.parse(accepted.body) as Echo;
        expect(echo.auth?.subject).toBeDefined();
        expect(echo.headers['proxy-authorization']).toBeUndefined();
      },
    );
  });

  describe("the challenge's error is the body's error, for every scheme and location kind", () => {
    const cases = SCHEMES.flatMap((scheme) =>
      locations(scheme).map((at) => ({ scheme, at, where: at.name })),
    );

    it.each(cases)('$scheme at $where', async ({ scheme, at }) => {
      const server = await r.serve([r.track(make(framework, scheme, { location: at.location }))]);
      const standard = at.name.includes('authorization');
      const proxy = at.name.startsWith('proxy');

      // Nothing presented: the challenge alone, no error attributes (RFC 6750 section 3.1).
      const missing = await rawGet(`${server.url}/echo`);
      expect(missing.status).toBe(proxy ? 407 : 401);
      expect(JSON.parse(missing.body).error).toBe('credentials_missing');
      const asked = challengeOf(missing);
      expect(asked.error).toBeUndefined();
      expect(asked.line).not.toContain('error_description');

      // A Bearer challenge only where RFC 6750 puts the token; Basic only at its header;
      // elsewhere the scheme's own challenge naming the location.
      const expectedScheme = standard
        ? scheme === 'basic'
          ? 'Basic'
          : 'Bearer'
        : { jwt: 'JWT', apiKey: 'ApiKey', custom: 'Custom', basic: 'Basic' }[scheme];
      expect(asked.scheme).toBe(expectedScheme);
      if (!standard) expect(asked.line).toMatch(/, (header|query|cookie)="(x-credential|access_token|sid)"$/);

      // Presented and refused: one code in both places.
      for (const credential of [credentials(scheme).bad, ...(scheme === 'jwt' ? [expired] : [])]) {
        const sent = at.send(credential);
        const res = await rawGet(`${server.url}${sent.path}`, sent.headers);
        expect(res.status).toBe(proxy ? 407 : 401);
        const body = JSON.parse(res.body) as { error: string; error_description: string };
        const challenge = challengeOf(res);
        expect(challenge.scheme).toBe(expectedScheme);
        if (scheme === 'basic' && standard) {
          // RFC 7617 defines no error attributes.
          expect(challenge.error).toBeUndefined();
          expect(body.error).toBe('invalid_credentials');
        } else {
          expect(challenge.error).toBe(body.error);
          expect(challenge.line).toContain(`error_description="${body.error_description}"`);
        }
        if (expectedScheme === 'Bearer') expect(['invalid_request', 'invalid_token']).toContain(body.error);
        expect(res.body).not.toContain(credential);
        expect(challenge.line).not.toContain(credential);
      }
    });

    it('an expired JWT: invalid_token behind Bearer, token_expired behind the JWT challenge (a cookie)', async () => {
      const bearer = await r.serve([r.track(make(framework, 'jwt'))]);
      const cookie = await r.serve([
        r.track(make(framework, 'jwt', { location: { cookie: { name: 'at' } } })),
      ]);
      const a = await rawGet(`${bearer.url}/echo`, { authorization: `Bearer ${expired}` });
      expect(JSON.parse(a.body)).toEqual({
        error: 'invalid_token',
        error_description: 'The token has expired',
      });
      expect(challengeOf(a).line).toBe(
        'Bearer realm="api", error="invalid_token", error_description="The token has expired"',
      );
      const b = await rawGet(`${cookie.url}/echo`, { cookie: `at=${expired}` });
      expect(JSON.parse(b.body)).toEqual({
        error: 'token_expired',
        error_description: 'The token has expired',
      });
      expect(challengeOf(b).line).toBe(
        'JWT realm="api", cookie="at", error="token_expired", error_description="The token has expired"',
      );
    });

    it('customAuth: invalid_token in both places at Bearer, invalid_credentials in both for a session cookie', async () => {
      const bearer = await r.serve([r.track(make(framework, 'custom'))]);
      const cookie = await r.serve([
        r.track(make(framework, 'custom', { location: { cookie: { name: 'sid' } }, realm: 'sessions' })),
      ]);
      const a = await rawGet(`${bearer.url}/echo`, { authorization: 'Bearer nope' });
      expect(JSON.parse(a.body).error).toBe('invalid_token');
      expect(challengeOf(a).line).toBe(
        'Bearer realm="api", error="invalid_token", error_description="The credential was not accepted"',
      );
      const b = await rawGet(`${cookie.url}/echo`, { cookie: 'sid=nope' });
      expect(JSON.parse(b.body).error).toBe('invalid_credentials');
      expect(challengeOf(b).line).toBe(
        'Custom realm="sessions", cookie="sid", error="invalid_credentials", error_description="The credential was not accepted"',
      );
    });
  });

  describe('every code of AuthErrorCode is sent by some request', () => {
    let upstream: RecordingUpstream;
    beforeAll(async () => {
      upstream = await startRecordingUpstream();
    });
    afterAll(() => upstream.close());

    type Probe = { status: number; body: { error: string } };
    const probes: Record<AuthErrorCode, () => Promise<Probe>> = {
      credentials_missing: async () => {
        const server = await r.serve([r.track(make(framework, 'jwt'))]);
        return request(server.url).get('/echo');
      },
      invalid_request: async () => {
        const server = await r.serve([r.track(make(framework, 'jwt'))]);
        const res = await rawGet(`${server.url}/echo`, {
          authorization: [`Bearer ${valid}`, `Bearer ${valid}`],
        });
        return { status: res.status, body: JSON.parse(res.body) };
      },
      invalid_token: async () => {
        const server = await r.serve([r.track(make(framework, 'jwt'))]);
        return request(server.url).get('/echo').set('authorization', 'Bearer not.a.token');
      },
      invalid_dpop_proof: async () => {
        // A DPoP-bound token under the DPoP scheme, without its proof.
        const bound = await sign(key, { cnf: { jkt: 'bm90LWEtdGh1bWJwcmludA' } });
        const auth = r.track(
          make(framework, 'jwt', { dpop: { mode: 'allowed', publicUrl: 'http://127.0.0.1' } }),
        );
        const server = await r.serve([auth]);
        return request(server.url).get('/echo').set('authorization', `DPoP ${bound}`);
      },
      use_dpop_nonce: async () => {
        // A valid proof (made with jose here; test/dpop.test.ts uses oauth4webapi) without the
        // nonce the server asks for.
        const client = await generateKeyPair('ES256');
        const jwk = await exportJWK(client.publicKey);
        const bound = await sign(key, { cnf: { jkt: await calculateJwkThumbprint(jwk) } });
        const auth = r.track(
          make(framework, 'jwt', { dpop: { mode: 'allowed', publicUrl: 'http://127.0.0.1', nonce: true } }),
        );
        const server = await r.serve([auth]);
        const proof = await new SignJWT({
          htm: 'GET',
          htu: 'http://127.0.0.1/echo',
          jti: randomUUID(),
          ath: createHash('sha256').update(bound).digest('base64url'),
        })
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
          .setIssuedAt()
          .sign(client.privateKey);
        return request(server.url).get('/echo').set('authorization', `DPoP ${bound}`).set('dpop', proof);
      },
      token_expired: async () => {
        const server = await r.serve([
          r.track(make(framework, 'jwt', { location: { cookie: { name: 'at' } } })),
        ]);
        return request(server.url).get('/echo').set('cookie', `at=${expired}`);
      },
      invalid_credentials: async () => {
        const server = await r.serve([r.track(make(framework, 'basic'))]);
        return request(server.url)
          .get('/echo')
          .set('authorization', `Basic ${basic('dave', 'nope')}`);
      },
      insufficient_scope: async () => {
        const auth = r.track(make(framework, 'apiKey'));
        const server = await r.serve([auth, framework.lib.requireScopes('admin')]);
        return request(server.url).get('/echo').set('authorization', `Bearer ${API_KEY}`);
      },
      access_denied: async () => {
        const auth = r.track(make(framework, 'apiKey'));
        const server = await r.serve([auth, framework.lib.authorize({ rules: [{ deny: 'true' }] })]);
        return request(server.url).get('/echo').set('authorization', `Bearer ${API_KEY}`);
      },
      temporarily_unavailable: async () => {
        const port = await freePort();
        const { logger } = capturing();
        const auth = r.track(
          framework.lib.jwtAuth(jwtOptions({ jwks: { url: `http://127.0.0.1:${port}/jwks.json` }, logger })),
        );
        const server = await r.serve([auth]);
        return request(server.url).get('/echo').set('authorization', `Bearer ${valid}`);
      },
      request_too_large: async () => {
        const { logger } = capturing();
        const backend = r.track(
          framework.lib.backendAuth({
            aws: {
              accessKeyId: 'AKIDEXAMPLE',
              secretAccessKey: 'secret',
              region: 'us-east-1',
              service: 'bedrock',
            },
            upstream: upstream.url,
            maxBodyBytes: 16,
            logger,
          }),
        );
        const server = await r.serve([backend], { forwardTo: upstream.url });
        return request(server.url)
          .post('/model/m/invoke')
          .set('content-type', 'application/json')
          .send('x'.repeat(64));
      },
      backend_credentials_unavailable: async () => {
        const port = await freePort();
        const { logger } = capturing();
        const backend = r.track(
          framework.lib.backendAuth({
            azure: {
              tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
              clientId: '0d5c2f7e-4b1a-4c33-9e5f-7a8b9c0d1e2f',
              clientSecret: 'fake-secret-0123456789',
              authorityHost: `http://127.0.0.1:${port}`,
            },
            logger,
          }),
        );
        const server = await r.serve([backend], { forwardTo: upstream.url });
        return request(server.url).post('/chat').send('{}');
      },
      wrong_adapter: async () => {
        // The other framework's middleware, mounted here: a 500 that names the fix.
        const family = (f: Framework) => f.name.toLowerCase().slice(0, 3);
        const other = all.find((f) => family(f) !== family(framework))!;
        const server = await r.serve([r.track(make(other, 'apiKey'))]);
        return request(server.url).get('/echo').set('authorization', `Bearer ${API_KEY}`);
      },
      backend_credentials_failed: async () => {
        const { logger } = capturing();
        const backend = r.track(
          framework.lib.backendAuth({
            key: 'sk-test-0123456789',
            upstream: () => {
              throw new Error('no upstream for this request');
            },
            logger,
          }),
        );
        const server = await r.serve([backend], { forwardTo: upstream.url });
        return request(server.url).get('/anything');
      },
    };

    it('the table covers the whole union', () => {
      expect(Object.keys(probes).sort()).toEqual(Object.keys(AUTH_ERROR_CODES).sort());
    });

    it.each(Object.keys(AUTH_ERROR_CODES) as AuthErrorCode[])('%s', async (code) => {
      const res = await probes[code]();
      expect(res.body.error).toBe(code);
      expect(AUTH_ERROR_CODES[code].statuses).toContain(res.status);
    });
  });

  describe('each refusal leaves its reason at debug level, never a credential', () => {
    it('tells a missing "aud" from a missing "exp", and logs no part of the token', async () => {
      const { lines, logger } = capturing();
      const server = await r.serve([r.track(framework.lib.jwtAuth(jwtOptions({ logger })))]);
      for (const token of [noAudience, noExpiry]) {
        const res = await request(server.url).get('/echo').set('authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        // The client reads one generic sentence for both.
        expect(res.body).toEqual({
          error: 'invalid_token',
          error_description: 'The token lacks a required claim',
        });
      }
      expect(lines.debug).toEqual([
        'jwt: refused with 401 invalid_token (missing claim "aud")',
        'jwt: refused with 401 invalid_token (missing claim "exp")',
      ]);
      expect(lines.warn).toEqual([]);
      expect(lines.info).toEqual([]);
      const logged = lines.debug.join('\n');
      for (const token of [noAudience, noExpiry])
        for (const part of token.split('.')) expect(logged).not.toContain(part);
    });

    it('logs every other refusal with a reason of its own, and a permissive pass', async () => {
      const { lines, logger } = capturing();
      const strict = r.track(
        make(framework, 'apiKey', { logger, location: { header: { name: 'x-api-key' } } }),
      );
      const server = await r.serve([strict]);
      await request(server.url).get('/echo');
      await request(server.url).get('/echo').set('x-api-key', 'ak_live_wrong-key');
      await rawGet(`${server.url}/echo`, { 'x-api-key': [API_KEY, API_KEY] });
      const permissive = await r.serve([r.track(make(framework, 'basic', { logger, mode: 'permissive' }))]);
      await request(permissive.url)
        .get('/echo')
        .set('authorization', `Basic ${basic('dave', 'nope')}`);
      expect(lines.debug).toEqual([
        'apiKey: refused with 401 credentials_missing (no credential at header "x-api-key")',
        'apiKey: refused with 401 invalid_credentials (unknown key)',
        'apiKey: refused with 400 invalid_request (credential sent more than once)',
        'basic: passed on in permissive mode: invalid_credentials (password does not match)',
      ]);
      expect(lines.debug.join('\n')).not.toContain(API_KEY);
    });

    it("requireScopes and authorize trace their refusals through the schemes' loggers", async () => {
      const { lines, logger } = capturing();
      const auth = () =>
        r.track(make(framework, 'apiKey', { logger, location: { header: { name: 'x-api-key' } } }));
      const scoped = await r.serve([auth(), framework.lib.requireScopes('read', 'admin')]);
      const ruled = await r.serve([
        auth(),
        framework.lib.authorize({ rules: ['true', { deny: 'auth.subject == "ci"' }] }),
      ]);
      const anonymous = await r.serve([
        r.track(make(framework, 'apiKey', { logger, mode: 'optional' })),
        framework.lib.requireScopes('read'),
      ]);
      expect((await request(scoped.url).get('/echo').set('x-api-key', API_KEY)).status).toBe(403);
      expect((await request(ruled.url).get('/echo').set('x-api-key', API_KEY)).status).toBe(403);
      expect((await request(anonymous.url).get('/echo')).status).toBe(401);
      expect(lines.debug).toEqual([
        'requireScopes: refused with 403 insufficient_scope (lacks "admin")',
        'authorize: refused with 403 access_denied (rules[1] (deny) was true or failed)',
        'requireScopes: refused with 401 credentials_missing (no identity)',
      ]);
    });

    it('a logger without debug, or whose debug throws, changes no answer', async () => {
      const quiet = await r.serve([r.track(make(framework, 'jwt', { logger: { warn() {} } }))]);
      expect((await request(quiet.url).get('/echo')).status).toBe(401);
      const throwing = {
        warn() {},
        debug() {
          throw new Error('logger down');
        },
      };
      const loud = await r.serve([r.track(make(framework, 'jwt', { logger: throwing }))]);
      const res = await request(loud.url).get('/echo').set('authorization', 'Bearer x.y.z');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
    });

    it('refuses a debug that is not a method, naming the field', () => {
      expect(() => make(framework, 'jwt', { logger: { warn() {}, debug: 'yes' } })).toThrow(/`logger.debug`/);
    });
  });

  describe('anyAuth is the same pipeline over several schemes, with its behaviours unchanged', () => {
    const anyAuth = anyAuthOf(framework);
    const members = (logger?: object) => [
      r.track(
        make(framework, 'apiKey', { location: { header: { name: 'x-api-key' } }, ...(logger && { logger }) }),
      ),
      r.track(make(framework, 'jwt', logger && { logger })),
    ];

    it('with nothing presented: one 401 carrying every challenge, logged once per logger', async () => {
      const { lines, logger } = capturing();
      const server = await r.serve([r.track(anyAuth(...members(logger)))]);
      const res = await rawGet(`${server.url}/echo`);
      expect(res.status).toBe(401);
      expect(headerLines(res.rawHeaders, 'www-authenticate')).toEqual([
        'ApiKey realm="api", header="x-api-key"',
        'Bearer realm="api"',
      ]);
      expect(lines.debug).toEqual([
        'apiKey, jwt: refused with 401 credentials_missing (no credential at header "x-api-key", header "authorization" (Bearer))',
      ]);
    });

    it('a credential repeated at any member is 400, even beside a valid one', async () => {
      const server = await r.serve([r.track(anyAuth(...members()))]);
      const res = await rawGet(`${server.url}/echo`, {
        'x-api-key': [API_KEY, API_KEY],
        authorization: `Bearer ${valid}`,
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error).toBe('invalid_request');
    });

    it('503 comes first among invalid credentials', async () => {
      const port = await freePort();
      const { logger } = capturing();
      const down = r.track(
        framework.lib.jwtAuth(jwtOptions({ jwks: { url: `http://127.0.0.1:${port}/jwks.json` }, logger })),
      );
      const keyAuth = r.track(make(framework, 'apiKey', { location: { header: { name: 'x-api-key' } } }));
      const server = await r.serve([r.track(anyAuth(keyAuth, down))]);
      const res = await request(server.url)
        .get('/echo')
        .set('x-api-key', 'ak_live_wrong')
        .set('authorization', `Bearer ${valid}`);
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    });

    it("only the winner's credential is stripped; every member's location counts as read upstream", async () => {
      const upstream = await startRecordingUpstream();
      try {
        const backend = r.track(
          framework.lib.backendAuth({ key: 'sk-upstream-0123456789', upstream: upstream.url }),
        );
        const app = await r.serve([r.track(anyAuth(...members()))]);
        const echoed = await request(app.url)
          .get('/echo')
          .set('x-api-key', 'ak_live_loser')
          .set('authorization', `Bearer ${valid}`);
        expect(echoed.status).toBe(200);
        const echo = echoed.body as Echo;
        expect(echo.auth?.method).toBe('jwt');
        expect(echo.headers.authorization).toBeUndefined();
        expect(echo.headers['x-api-key']).toBe('ak_live_loser');

        const gateway = await r.serve([r.track(anyAuth(...members())), backend], { forwardTo: upstream.url });
        const forwarded = await request(gateway.url)
          .get('/v1/models')
          .set('x-api-key', 'ak_live_loser')
          .set('authorization', `Bearer ${valid}`);
        expect(forwarded.status).toBe(200);
        const received = upstream.last();
        expect(received.headers['x-api-key']).toBeUndefined();
        expect(received.headers.authorization).toBe('Bearer sk-upstream-0123456789');
      } finally {
        await upstream.close();
      }
    });
  });
});
