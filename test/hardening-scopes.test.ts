import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizeOptions, AuthResult, Logger } from '../src/index.js';
import type { Echo, Framework, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { makeKey, sign, type TestKey } from './support/keys.js';
import { headerLines, rawGet } from './support/raw-request.js';
import { anyAuthOf, inboundResourcesOf } from './support/resources.js';

// Issue 11, "Scopes and refusals" and the customAuth bullet of "Credentials", on both adapters:
// - the "*" wildcard comes only from an API-key record, never from a token or a custom provider,
//   and survives (or not) every way identities are merged;
// - only U+0020 separates scopes in a string claim, and no scope is made of anything else;
// - a request with no identity that reaches requireScopes() or authorize() gets 401 (407 for a
//   proxy credential) with the challenges of the schemes that ran, never 403;
// - a custom provider's denial reason, and anything it throws, never reaches the response.

const all = await frameworks();

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256');
});

const WILDCARD_KEY = 'ak_wild_0f1e2d3c4b5a69788796a5b4c3';
const DEFAULT_KEY = 'ak_dflt_9a8b7c6d5e4f30211203f4e5d6';
const READER_KEY = 'ak_read_1b2c3d4e5f60718293a4b5c6d7';
const NOSCOPE_KEY = 'ak_none_7766554433221100ffeeddccbb';
const STAR_AND_MORE_KEY = 'ak_more_00112233445566778899aabbcc';
const X_API_KEY = { header: { name: 'x-api-key' } } as const;

const apiKeyRecords = () => [
  { name: 'wild', key: WILDCARD_KEY, scopes: ['*'] },
  { name: 'default', key: DEFAULT_KEY }, // scopes omitted: ["*"], as in agents-gateway
  { name: 'reader', key: READER_KEY, scopes: ['agents:read'] },
  { name: 'noscope', key: NOSCOPE_KEY, scopes: [] },
  { name: 'star-and-more', key: STAR_AND_MORE_KEY, scopes: ['*', 'agents:read'] },
];

const sha1 = (password: string) => `{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`;
const HTPASSWD = `carol:${sha1('carol-pw')}\n`;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

const BEARER = 'Bearer realm="api"';
const BASIC = 'Basic realm="Restricted", charset="UTF-8"';
const API_KEY_CHALLENGE = 'ApiKey realm="api", header="x-api-key"';

/** Servers and middlewares a describe block opened, closed in its afterAll. */
function resources(framework: Framework) {
  const opened = inboundResourcesOf(framework, {
    key: () => key,
    htpasswd: HTPASSWD,
    apiKeys: apiKeyRecords,
  });
  const { lib } = framework;
  const { track } = opened;
  return {
    ...opened,
    custom: (scopes: unknown, extra: Record<string, unknown> = {}) =>
      track(
        lib.customAuth(
          {
            authenticate: (token: string) =>
              token === 'sess-ok'
                ? lib.AuthResult.ok({ subject: 'svc', scopes: scopes as string[] })
                : lib.AuthResult.denied(),
          },
          extra,
        ),
      ),
  };
}

/**
 * The 403 an identity without the scope gets. The challenge is that of the scheme that ran
 * (`Bearer ...`, `ApiKey realm=..., header=...`, none for Basic: test/api-review.test.ts); every
 * one ends with the scopes asked for.
 */
function expectInsufficientScope(res: request.Response, scopes: string, context = '') {
  expect(res.status, context).toBe(403);
  const challenge = res.headers['www-authenticate'];
  if (challenge !== undefined) {
    expect(
      challenge.endsWith(`error="insufficient_scope", scope="${scopes}"`),
      `${context} ${challenge}`,
    ).toBe(true);
  }
  expect(res.body, context).toEqual({ error: 'insufficient_scope', error_description: expect.any(String) });
}

// --- 1. The wildcard: an API-key record feature, never a scope value ------------------------------

describe.each(all)('the "*" wildcard comes only from an API-key record, on $name', (framework) => {
  const lib = framework.lib;
  const r = resources(framework);
  afterAll(() => r.closeAll());

  // A token's scope claim, in every form an issuer can send it, and what it must grant for
  // requireScopes('agents:write'): a "*" in it is the literal scope named "*".
  const tokenCases: {
    label: string;
    claims: Record<string, unknown>;
    scopeClaim?: string;
    scopes: string[];
  }[] = [
    { label: 'scope "*"', claims: { scope: '*' }, scopes: ['*'] },
    { label: 'scope "read *"', claims: { scope: 'read *' }, scopes: ['read', '*'] },
    { label: 'scope " * "', claims: { scope: ' * ' }, scopes: ['*'] },
    { label: 'scp ["*"]', claims: { scope: undefined, scp: ['*'] }, scopes: ['*'] },
    { label: 'scp "*"', claims: { scope: undefined, scp: '*' }, scopes: ['*'] },
    { label: 'scp ["read", "*"]', claims: { scope: undefined, scp: ['read', '*'] }, scopes: ['read', '*'] },
    {
      label: 'custom claim permissions ["*"]',
      claims: { permissions: ['*'] },
      scopeClaim: 'permissions',
      scopes: ['*'],
    },
    {
      label: 'custom claim permissions "* agents:*"',
      claims: { permissions: '* agents:*' },
      scopeClaim: 'permissions',
      scopes: ['*', 'agents:*'],
    },
    { label: 'scope "agents:*"', claims: { scope: 'agents:*' }, scopes: ['agents:*'] },
    { label: 'scope "**"', claims: { scope: '**' }, scopes: ['**'] },
  ];

  it.each(tokenCases)('a JWT with $label grants nothing beyond its literal scopes', async (c) => {
    const extra = c.scopeClaim === undefined ? {} : { scopeClaim: c.scopeClaim };
    const server = await r.serve([r.jwt(extra), lib.requireScopes('agents:write')]);
    const token = await sign(key, c.claims);
    const res = await request(server.url).get('/').set('Authorization', `Bearer ${token}`);
    expectInsufficientScope(res, 'agents:write');
    // And the literal scopes are what the app sees: plain strings, nothing else on the identity.
    const open = await r.serve([r.jwt(extra)]);
    const echo = await request(open.url).get('/').set('Authorization', `Bearer ${token}`);
    expect((echo.body as Echo).auth?.scopes).toEqual(c.scopes);
  });

  it('a JWT "*" is only the scope named "*": requireScopes("*") asks for exactly that', async () => {
    const server = await r.serve([r.jwt(), lib.requireScopes('*')]);
    const star = await sign(key, { scope: '*' });
    expect((await request(server.url).get('/').set('Authorization', `Bearer ${star}`)).status).toBe(200);
    const other = await sign(key, { scope: 'read write' });
    expectInsufficientScope(await request(server.url).get('/').set('Authorization', `Bearer ${other}`), '*');
  });

  it('rules read the wildcard as auth.allScopes: true for an API-key record, false for a token "*"', async () => {
    const rule = { rules: ['auth.allScopes'] };
    const byToken = await r.serve([r.jwt(), lib.authorize(rule)]);
    const star = await sign(key, { scope: '*' });
    const denied = await request(byToken.url).get('/').set('Authorization', `Bearer ${star}`);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe('access_denied');
    const keys = () => r.track(lib.apiKeyAuth({ keys: apiKeyRecords(), location: X_API_KEY }));
    const byKey = await r.serve([keys(), lib.authorize(rule)]);
    expect((await request(byKey.url).get('/').set('x-api-key', WILDCARD_KEY)).status).toBe(200);
    expect((await request(byKey.url).get('/').set('x-api-key', READER_KEY)).status).toBe(403);
  });

  // customAuth: a provider's "*" is literal too, whatever else it claims to be.
  const customCases: { label: string; scopes: unknown; method?: string }[] = [
    { label: '["*"]', scopes: ['*'] },
    { label: '["read", "*"]', scopes: ['read', '*'] },
    { label: '["*"] with method "apiKey"', scopes: ['*'], method: 'apiKey' },
    { label: '["*"] with method "jwt"', scopes: ['*'], method: 'jwt' },
  ];

  it.each(customCases)('customAuth scopes $label do not grant every scope', async ({ scopes, method }) => {
    const server = await r.serve([
      r.track(
        lib.customAuth({
          authenticate: () =>
            lib.AuthResult.ok({ subject: 'svc', scopes: scopes as string[], ...(method ? { method } : {}) }),
        }),
      ),
      lib.requireScopes('agents:write'),
    ]);
    const res = await request(server.url).get('/').set('Authorization', 'Bearer sess-1');
    expectInsufficientScope(res, 'agents:write');
  });

  it('a custom provider cannot smuggle an apiKey part onto the identity', async () => {
    const server = await r.serve([
      r.track(
        lib.customAuth({
          authenticate: () =>
            lib.AuthResult.ok({
              subject: 'svc',
              scopes: ['*'],
              method: 'apiKey',
              apiKey: { name: 'wild', scopes: ['*'], metadata: {} },
            } as unknown as Parameters<typeof lib.AuthResult.ok>[0]),
        }),
      ),
      lib.requireScopes('agents:write'),
    ]);
    const res = await request(server.url).get('/').set('Authorization', 'Bearer sess-1');
    // AuthResult.ok() refuses the unknown `apiKey` field (test/hardening-options.test.ts), so
    // the provider's answer is no identity at all: the credential is refused.
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  });

  // API-key records: the one place "*" grants every scope.
  const keyCases: { label: string; key: string; ok: boolean; scopes: string[] }[] = [
    { label: 'scopes ["*"]', key: WILDCARD_KEY, ok: true, scopes: ['*'] },
    { label: 'scopes omitted (default ["*"])', key: DEFAULT_KEY, ok: true, scopes: ['*'] },
    { label: 'scopes ["*", "agents:read"]', key: STAR_AND_MORE_KEY, ok: true, scopes: ['*', 'agents:read'] },
    { label: 'scopes ["agents:read"]', key: READER_KEY, ok: false, scopes: ['agents:read'] },
    { label: 'scopes []', key: NOSCOPE_KEY, ok: false, scopes: [] },
  ];

  it.each(keyCases)('an API key with $label -> every scope: $ok', async ({ key: apiKey, ok, scopes }) => {
    const server = await r.serve([r.apiKey(), lib.requireScopes('agents:write', 'billing:admin')]);
    const res = await request(server.url).get('/').set('X-Api-Key', apiKey);
    if (!ok) {
      expectInsufficientScope(res, 'agents:write billing:admin');
      return;
    }
    expect(res.status).toBe(200);
    // auth.scopes stays the list of strings the record holds; nothing else is added to it.
    const auth = (res.body as Echo).auth!;
    expect(auth.scopes).toEqual(scopes);
    expect(Object.keys(auth).sort()).toEqual(['apiKey', 'method', 'scopes', 'subject']);
  });

  it('a key added at run time with ["*"] grants every scope; a revoked one nothing', async () => {
    const keys = r.apiKey();
    const server = await r.serve([keys, lib.requireScopes('x:y')]);
    const added = 'ak_added_abcdef0123456789abcdef01';
    await (keys as unknown as { add(record: unknown): Promise<void> }).add({
      name: 'added',
      key: added,
      scopes: ['*'],
    });
    expect((await request(server.url).get('/').set('X-Api-Key', added)).status).toBe(200);
    await (keys as unknown as { revoke(name: string): Promise<boolean> }).revoke('added');
    expect((await request(server.url).get('/').set('X-Api-Key', added)).status).toBe(401);
  });

  // Identities merged over several schemes keep the wildcard exactly when an API key granted it.
  interface MergeCase {
    label: string;
    chain: (r: ReturnType<typeof resources>) => unknown[];
    headers: () => Promise<Record<string, string>>;
    ok: boolean;
  }
  const bearer = async (claims: Record<string, unknown>) => `Bearer ${await sign(key, claims)}`;
  const mergeCases: MergeCase[] = [
    {
      label: 'jwt "*" then apiKey ["agents:read"]',
      chain: (r) => [r.jwt(), r.apiKey()],
      headers: async () => ({ Authorization: await bearer({ scope: '*' }), 'X-Api-Key': READER_KEY }),
      ok: false,
    },
    {
      label: 'apiKey ["agents:read"] then jwt "*"',
      chain: (r) => [r.apiKey(), r.jwt()],
      headers: async () => ({ Authorization: await bearer({ scope: '*' }), 'X-Api-Key': READER_KEY }),
      ok: false,
    },
    {
      label: 'jwt "read" then apiKey ["*"]',
      chain: (r) => [r.jwt(), r.apiKey()],
      headers: async () => ({ Authorization: await bearer({ scope: 'read' }), 'X-Api-Key': WILDCARD_KEY }),
      ok: true,
    },
    {
      label: 'apiKey ["*"] then jwt "read" (the later scheme keeps the earlier grant)',
      chain: (r) => [r.apiKey(), r.jwt()],
      headers: async () => ({ Authorization: await bearer({ scope: 'read' }), 'X-Api-Key': WILDCARD_KEY }),
      ok: true,
    },
    {
      label: 'apiKey ["*"] then basic (no scopes)',
      chain: (r) => [r.apiKey(), r.basic()],
      headers: async () => ({ Authorization: basic('carol', 'carol-pw'), 'X-Api-Key': WILDCARD_KEY }),
      ok: true,
    },
    {
      label: 'custom "*" then apiKey []',
      chain: (r) => [r.custom(['*']), r.apiKey()],
      headers: async () => ({ Authorization: 'Bearer sess-ok', 'X-Api-Key': NOSCOPE_KEY }),
      ok: false,
    },
    {
      label: 'anyAuth(jwt, apiKey): jwt "*" wins',
      chain: (r) => [r.track(anyAuthOf(framework)(r.jwt(), r.apiKey()))],
      headers: async () => ({ Authorization: await bearer({ scope: '*' }) }),
      ok: false,
    },
    {
      label: 'anyAuth(jwt, apiKey): API key ["*"] wins',
      chain: (r) => [r.track(anyAuthOf(framework)(r.jwt(), r.apiKey()))],
      headers: async () => ({ 'X-Api-Key': WILDCARD_KEY }),
      ok: true,
    },
    {
      label: 'anyAuth(custom "*", apiKey)',
      chain: (r) => [r.track(anyAuthOf(framework)(r.custom(['*']), r.apiKey()))],
      headers: async () => ({ Authorization: 'Bearer sess-ok' }),
      ok: false,
    },
    {
      label: 'anyAuth(jwt) "*" then apiKey ["*"]',
      chain: (r) => [r.track(anyAuthOf(framework)(r.jwt())), r.apiKey()],
      headers: async () => ({ Authorization: await bearer({ scope: '*' }), 'X-Api-Key': WILDCARD_KEY }),
      ok: true,
    },
  ];

  it.each(mergeCases)('$label -> every scope: $ok', async ({ chain, headers, ok }) => {
    const server = await r.serve([...chain(r), lib.requireScopes('agents:write')]);
    const res = await request(server.url)
      .get('/')
      .set(await headers());
    if (ok) expect(res.status).toBe(200);
    else expectInsufficientScope(res, 'agents:write');
  });

  it('the wildcard is not a property anyone can copy: an identity rebuilt by the app loses it', async () => {
    // The grant lives beside the identity portcullis made; a copy (spread, JSON round trip) is
    // not that identity, so it falls back to the plain list, where "*" is only a string.
    const rebuild = (req: { auth?: unknown }, _res: unknown, next: () => void) => {
      req.auth = JSON.parse(JSON.stringify(req.auth));
      next();
    };
    const rebuildKoa = async (ctx: { state: { auth?: unknown } }, next: () => Promise<void>) => {
      ctx.state.auth = JSON.parse(JSON.stringify(ctx.state.auth));
      await next();
    };
    const server = await r.serve([
      r.apiKey(),
      framework.name.startsWith('express') ? rebuild : rebuildKoa,
      lib.requireScopes('agents:write'),
    ]);
    expectInsufficientScope(
      await request(server.url).get('/').set('X-Api-Key', WILDCARD_KEY),
      'agents:write',
    );
  });

  it.each([
    ['a space', ['agents read']],
    ['a tab', ['agents\tread']],
    ['a no-break space', ['agents\u00a0read']],
    ['a double quote', ['agents"read']],
    ['a non-ASCII letter', ['agentś']],
    ['an empty string', ['']],
    ['a non-string', [7]],
  ])('an API-key record scope with %s is refused at start-up', (_label, scopes) => {
    expect(() =>
      lib.apiKeyAuth({
        keys: [{ name: 'k', key: READER_KEY, scopes: scopes as string[] }],
        location: X_API_KEY,
      }),
    ).toThrow(/keys\[0\]\.scopes/);
  });
});

// --- 2. Only U+0020 separates scopes ------------------------------------------------------------------

/** Characters that are not SP: none of them separates two scopes, in any claim form. */
const NOT_SEPARATORS: [string, string][] = [
  ['TAB', '\t'],
  ['LF', '\n'],
  ['CR', '\r'],
  ['CRLF', '\r\n'],
  ['VT', '\u000b'],
  ['FF', '\u000c'],
  ['NUL', '\u0000'],
  ['NEL U+0085', '\u0085'],
  ['NBSP U+00A0', '\u00a0'],
  ['OGHAM SPACE U+1680', '\u1680'],
  ['MONGOLIAN VOWEL SEPARATOR U+180E', '\u180e'],
  ...Array.from({ length: 11 }, (_, i): [string, string] => {
    const code = 0x2000 + i;
    return [`U+${code.toString(16).toUpperCase()}`, String.fromCharCode(code)];
  }),
  ['ZWSP U+200B', '\u200b'],
  ['LINE SEPARATOR U+2028', '\u2028'],
  ['PARAGRAPH SEPARATOR U+2029', '\u2029'],
  ['NNBSP U+202F', '\u202f'],
  ['MMSP U+205F', '\u205f'],
  ['IDEOGRAPHIC SPACE U+3000', '\u3000'],
  ['BOM U+FEFF', '\ufeff'],
  ['comma', ','],
  ['semicolon', ';'],
  ['plus', '+'],
  ['percent-encoded space', '%20'],
];

describe.each(all)('only U+0020 separates scopes, on $name', (framework) => {
  const lib = framework.lib;
  const r = resources(framework);
  afterAll(() => r.closeAll());

  let admin: TestServer;
  let viaPermissions: TestServer;
  let echo: TestServer;
  beforeAll(async () => {
    admin = await r.serve([r.jwt(), lib.requireScopes('admin')]);
    viaPermissions = await r.serve([r.jwt({ scopeClaim: 'permissions' }), lib.requireScopes('admin')]);
    echo = await r.serve([r.jwt()]);
  });

  const get = async (server: TestServer, claims: Record<string, unknown>) =>
    request(server.url)
      .get('/')
      .set('Authorization', `Bearer ${await sign(key, claims)}`);

  it.each(NOT_SEPARATORS)(
    '%s does not separate scopes in a string, an scp array or a custom claim',
    async (_label, sep) => {
      const forms: Record<string, unknown>[] = [
        { scope: `read${sep}admin` },
        { scope: `admin${sep}read` },
        { scope: `read${sep}admin write` },
        { scope: `${sep}admin` },
        { scope: `admin${sep}` },
        { scope: undefined, scp: `read${sep}admin` },
        { scope: undefined, scp: [`read${sep}admin`] },
        { scope: undefined, scp: [`${sep}admin`] },
        { scope: undefined, scp: ['read', `admin${sep}`] },
      ];
      for (const claims of forms)
        expectInsufficientScope(await get(admin, claims), 'admin', JSON.stringify(claims));
      for (const permissions of [`read${sep}admin`, [`read${sep}admin`]]) {
        expectInsufficientScope(
          await get(viaPermissions, { permissions }),
          'admin',
          JSON.stringify(permissions),
        );
      }
      // The piece holding it is dropped whole, not trimmed or split into something else.
      const res = await get(echo, { scope: `read${sep}admin write` });
      expect((res.body as Echo).auth?.scopes).toEqual(
        sep === ',' || sep === ';' || sep === '+' || sep === '%20' ? [`read${sep}admin`, 'write'] : ['write'],
      );
    },
  );

  it.each([
    ['one space', 'read admin', ['read', 'admin']],
    ['leading space', ' admin', ['admin']],
    ['trailing space', 'admin ', ['admin']],
    ['several spaces', 'read   admin', ['read', 'admin']],
    ['only spaces', '   ', []],
    ['empty', '', []],
    ['a repeated scope', 'admin admin', ['admin']],
  ])('SP separates: %s', async (_label, scope, scopes) => {
    const res = await get(echo, { scope });
    expect((res.body as Echo).auth?.scopes).toEqual(scopes);
    const needed = await get(admin, { scope });
    if (scopes.includes('admin')) expect(needed.status).toBe(200);
    else expectInsufficientScope(needed, 'admin');
  });

  it('an scp array element with a space is one invalid scope, never two', async () => {
    for (const scp of [['read admin'], ['admin read'], [' admin'], ['admin ']]) {
      expectInsufficientScope(await get(admin, { scope: undefined, scp }), 'admin', JSON.stringify(scp));
    }
    const res = await get(echo, { scope: undefined, scp: ['read admin', 'write', 7, null, '', ['admin']] });
    expect((res.body as Echo).auth?.scopes).toEqual(['write']);
  });

  it('a scope claim of another type grants nothing', async () => {
    for (const scope of [7, true, { admin: true }, null]) {
      expectInsufficientScope(await get(admin, { scope }), 'admin', JSON.stringify(scope));
    }
  });

  it('customAuth scopes: only scope-tokens are kept, a spaced one is not split', async () => {
    const server = await r.serve([
      r.custom(['read admin', 'x\u00a0admin', 'admin\n', 'ok', 'tab\there', 42]),
    ]);
    const res = await request(server.url).get('/').set('Authorization', 'Bearer sess-ok');
    expect((res.body as Echo).auth?.scopes).toEqual(['ok']);
    const guarded = await r.serve([r.custom(['read admin', 'x\u3000admin']), lib.requireScopes('admin')]);
    expectInsufficientScope(
      await request(guarded.url).get('/').set('Authorization', 'Bearer sess-ok'),
      'admin',
    );
  });
});

// --- 3. No identity: 401 with the schemes' challenges, not 403 --------------------------------------

interface Challenges {
  status: 401 | 407;
  'www-authenticate'?: string[];
  'proxy-authenticate'?: string[];
}

interface Setup {
  label: string;
  /** The inbound middlewares in front of the check. */
  inbound: (r: ReturnType<typeof resources>, framework: Framework) => unknown[];
  /** Headers of a request that leaves no identity. */
  headers?: Record<string, string>;
  path?: string;
  expected: Challenges;
}

const PROXY_BASIC = { header: { name: 'proxy-authorization', prefix: 'Basic ' } } as const;
const PROXY_BEARER = { header: { name: 'Proxy-Authorization', prefix: 'Bearer ' } } as const;

const SETUPS: Setup[] = [
  {
    label: 'no inbound middleware at all',
    inbound: () => [],
    expected: { status: 401, 'www-authenticate': [BEARER] },
  },
  {
    label: 'optional jwtAuth, no token',
    inbound: (r) => [r.jwt({ mode: 'optional' })],
    expected: { status: 401, 'www-authenticate': [BEARER] },
  },
  {
    label: 'optional jwtAuth with its own realm',
    inbound: (r) => [r.jwt({ mode: 'optional', realm: 'gateway' })],
    expected: { status: 401, 'www-authenticate': ['Bearer realm="gateway"'] },
  },
  {
    label: 'optional jwtAuth, a token of another scheme (Basic)',
    inbound: (r) => [r.jwt({ mode: 'optional' })],
    headers: { Authorization: basic('carol', 'carol-pw') },
    expected: { status: 401, 'www-authenticate': [BEARER] },
  },
  {
    label: 'permissive jwtAuth, an invalid token let through',
    inbound: (r) => [r.jwt({ mode: 'permissive' })],
    headers: { Authorization: 'Bearer not-a-jwt' },
    expected: { status: 401, 'www-authenticate': [BEARER] },
  },
  {
    label: 'strict jwtAuth on one of its public paths',
    inbound: (r) => [r.jwt({ publicPaths: ['/open'] })],
    path: '/open',
    expected: { status: 401, 'www-authenticate': [BEARER] },
  },
  {
    label: 'optional basicAuth, no credentials',
    inbound: (r) => [r.basic({ mode: 'optional' })],
    expected: { status: 401, 'www-authenticate': [BASIC] },
  },
  {
    label: 'optional basicAuth at Proxy-Authorization',
    inbound: (r) => [r.basic({ mode: 'optional', location: PROXY_BASIC })],
    expected: { status: 407, 'proxy-authenticate': [BASIC] },
  },
  {
    label: 'optional apiKeyAuth at x-api-key',
    inbound: (r) => [r.apiKey({ mode: 'optional' })],
    expected: { status: 401, 'www-authenticate': [API_KEY_CHALLENGE] },
  },
  {
    label: 'optional apiKeyAuth at Proxy-Authorization: Bearer',
    inbound: (r) => [r.apiKey({ mode: 'optional', location: PROXY_BEARER })],
    expected: { status: 407, 'proxy-authenticate': [BEARER] },
  },
  {
    label: 'optional customAuth',
    inbound: (r) => [r.custom([], { mode: 'optional', realm: 'sessions' })],
    expected: { status: 401, 'www-authenticate': ['Bearer realm="sessions"'] },
  },
  {
    label: 'optional customAuth at Proxy-Authorization: Bearer',
    inbound: (r) => [r.custom([], { mode: 'optional', location: PROXY_BEARER })],
    expected: { status: 407, 'proxy-authenticate': [BEARER] },
  },
  {
    label: 'optional jwtAuth at Proxy-Authorization: Bearer',
    inbound: (r) => [r.jwt({ mode: 'optional', location: PROXY_BEARER })],
    expected: { status: 407, 'proxy-authenticate': [BEARER] },
  },
  {
    label: 'optional anyAuth(jwt, basic, apiKey)',
    inbound: (r, framework) => [
      r.track(anyAuthOf(framework)(r.jwt(), r.basic(), r.apiKey(), { mode: 'optional' })),
    ],
    expected: { status: 401, 'www-authenticate': [BEARER, BASIC, API_KEY_CHALLENGE] },
  },
  {
    label: 'optional anyAuth(jwt, custom): one challenge for two identical ones',
    inbound: (r, framework) => [r.track(anyAuthOf(framework)(r.jwt(), r.custom([]), { mode: 'optional' }))],
    expected: { status: 401, 'www-authenticate': [BEARER] },
  },
  {
    label: 'optional jwtAuth then optional basicAuth (two in a row)',
    inbound: (r) => [r.jwt({ mode: 'optional' }), r.basic({ mode: 'optional' })],
    expected: { status: 401, 'www-authenticate': [BEARER, BASIC] },
  },
  {
    label: 'optional basicAuth at Proxy-Authorization then optional jwtAuth',
    inbound: (r) => [r.basic({ mode: 'optional', location: PROXY_BASIC }), r.jwt({ mode: 'optional' })],
    expected: { status: 401, 'www-authenticate': [BEARER], 'proxy-authenticate': [BASIC] },
  },
];

/** The rule kinds authorize() has, each in a form that refuses the anonymous request. */
const REFUSING_RULES: { label: string; options: AuthorizeOptions }[] = [
  { label: 'an allow rule that is false', options: { rules: ['request.path == "/elsewhere"'] } },
  { label: 'an allow rule on the identity', options: { rules: ['jwt.sub == "alice"'] } },
  { label: 'an { allow } on auth.subject', options: { rules: [{ allow: 'auth.subject == "alice"' }] } },
  { label: 'a { deny } that is true', options: { rules: [{ deny: 'request.method == "GET"' }] } },
  {
    label: 'a { deny } that errs (absent variable)',
    options: { rules: [{ deny: 'jwt.tenant.id == "red"' }] },
  },
  { label: 'a { require } that is false', options: { rules: [{ require: 'request.method == "POST"' }] } },
  { label: 'a { require } on the identity', options: { rules: [{ require: '"admin" in auth.scopes' }] } },
  { label: 'defaultDeny with no rules', options: { rules: [], defaultDeny: true } },
  {
    label: 'defaultDeny with a false allow',
    options: { rules: [{ allow: 'request.path == "/elsewhere"' }], defaultDeny: true },
  },
];

/** authorize() outcomes that pass, anonymous or not: rules on the request alone can admit. */
const PASSING_RULES: { label: string; options: AuthorizeOptions }[] = [
  { label: 'no rules', options: { rules: [] } },
  { label: 'an allow rule on the request alone', options: { rules: ['request.method == "GET"'] } },
  { label: 'a { deny } that is false', options: { rules: [{ deny: 'request.method == "DELETE"' }] } },
  { label: 'a { require } that is true', options: { rules: [{ require: 'request.method == "GET"' }] } },
  {
    label: 'defaultDeny with an allow on the request that is true',
    options: { rules: [{ allow: 'request.path == "/"' }], defaultDeny: true },
  },
];

describe.each(all)('a request with no identity gets 401 (or 407), not 403, on $name', (framework) => {
  const lib = framework.lib;
  const r = resources(framework);
  afterAll(() => r.closeAll());

  async function expectChallenged(server: TestServer, setup: Setup): Promise<void> {
    const res = await rawGet(`${server.url}${setup.path ?? '/'}`, setup.headers);
    const { expected } = setup;
    expect(res.status).toBe(expected.status);
    expect(headerLines(res.rawHeaders, 'www-authenticate')).toEqual(expected['www-authenticate'] ?? []);
    expect(headerLines(res.rawHeaders, 'proxy-authenticate')).toEqual(expected['proxy-authenticate'] ?? []);
    // RFC 6750 section 3.1: nothing was presented (or nothing was accepted), so no error param.
    for (const line of [
      ...headerLines(res.rawHeaders, 'www-authenticate'),
      ...headerLines(res.rawHeaders, 'proxy-authenticate'),
    ]) {
      expect(line).not.toMatch(/error=/);
    }
    expect(JSON.parse(res.body)).toEqual({
      error: 'credentials_missing',
      error_description: 'Authentication is required',
    });
    if (setup.headers?.Authorization !== undefined)
      expect(res.body).not.toContain(setup.headers.Authorization);
  }

  it.each(SETUPS)('requireScopes after $label', async (setup) => {
    const server = await r.serve([...setup.inbound(r, framework), lib.requireScopes('agents:read')]);
    await expectChallenged(server, setup);
  });

  it.each(SETUPS)('authorize (deny true) after $label', async (setup) => {
    const server = await r.serve([
      ...setup.inbound(r, framework),
      lib.authorize({ rules: [{ deny: 'request.method == "GET"' }] }),
    ]);
    await expectChallenged(server, setup);
  });

  const noInbound = SETUPS[0]!;
  const optionalJwt = SETUPS[1]!;

  it.each(REFUSING_RULES)('authorize with $label: 401 anonymous, 403 identified', async ({ options }) => {
    const server = await r.serve([r.jwt({ mode: 'optional' }), lib.authorize(options)]);
    await expectChallenged(server, optionalJwt);
    const token = await sign(key, { sub: 'bob', scope: 'read' });
    const identified = await request(server.url).get('/').set('Authorization', `Bearer ${token}`);
    expect(identified.status).toBe(403);
    expect(identified.body).toEqual({ error: 'access_denied', error_description: expect.any(String) });
    expect(identified.headers['www-authenticate']).toBeUndefined();
  });

  it.each(REFUSING_RULES)('authorize with $label and no inbound middleware: 401', async ({ options }) => {
    const server = await r.serve([lib.authorize(options)]);
    await expectChallenged(server, noInbound);
  });

  it.each(PASSING_RULES)('authorize with $label lets the anonymous request pass', async ({ options }) => {
    for (const list of [[lib.authorize(options)], [r.jwt({ mode: 'optional' }), lib.authorize(options)]]) {
      const server = await r.serve(list);
      const res = await request(server.url).get('/');
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth).toBeNull();
    }
  });

  it('an identity without the scope still gets 403 insufficient_scope, whatever the scheme', async () => {
    const checks = [
      { inbound: [r.jwt()], headers: { Authorization: `Bearer ${await sign(key, { scope: 'read' })}` } },
      { inbound: [r.basic()], headers: { Authorization: basic('carol', 'carol-pw') } },
      { inbound: [r.apiKey()], headers: { 'X-Api-Key': READER_KEY } },
      { inbound: [r.custom(['read'])], headers: { Authorization: 'Bearer sess-ok' } },
      {
        inbound: [r.track(anyAuthOf(framework)(r.jwt(), r.apiKey()))],
        headers: { 'X-Api-Key': NOSCOPE_KEY },
      },
    ];
    for (const { inbound, headers } of checks) {
      const server = await r.serve([...inbound, lib.requireScopes('agents:write')]);
      expectInsufficientScope(
        await request(server.url).get('/').set(headers),
        'agents:write',
        JSON.stringify(Object.keys(headers)),
      );
    }
  });

  it('delegateErrors: the app receives the 401 with its code and challenge', async () => {
    const server = await r.serve(
      [r.jwt({ mode: 'optional' }), lib.authorize({ rules: [{ deny: 'true' }], delegateErrors: true })],
      { errorHandler: true },
    );
    const res = await request(server.url).get('/');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ handledBy: 'app', code: 'credentials_missing' });
  });

  it('an identity the app cleared with null is no identity: 401, never a crash', async () => {
    const clearExpress = (req: { auth?: unknown }, _res: unknown, next: () => void) => {
      req.auth = null;
      next();
    };
    const clearKoa = async (ctx: { state: { auth?: unknown } }, next: () => Promise<void>) => {
      ctx.state.auth = null;
      await next();
    };
    const clear = framework.name.startsWith('express') ? clearExpress : clearKoa;
    for (const check of [lib.requireScopes('agents:read'), lib.authorize({ rules: [{ deny: 'true' }] })]) {
      const server = await r.serve([r.apiKey(), clear, check]);
      const res = await rawGet(server.url, { 'X-Api-Key': WILDCARD_KEY });
      expect(res.status).toBe(401);
      expect(headerLines(res.rawHeaders, 'www-authenticate')).toEqual([API_KEY_CHALLENGE]);
    }
  });

  it('schemes that ran on another request do not leak into this one', async () => {
    // The record is per request: a Basic request on one route does not add Basic to the next.
    const server = await r.serve([lib.requireScopes('agents:read')]);
    const first = await rawGet(server.url, { Authorization: basic('carol', 'carol-pw') });
    expect(headerLines(first.rawHeaders, 'www-authenticate')).toEqual([BEARER]);
  });
});

// --- 4. customAuth: the provider's words never reach the client --------------------------------------

/** A logger that keeps every line, by level. */
function recordingLogger(withInfo = true): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const logger: Logger & { lines: typeof lines } = {
    lines,
    warn: (message) => {
      lines.push({ level: 'warn', message });
    },
  };
  if (withInfo) logger.info = (message) => lines.push({ level: 'info', message });
  return logger;
}

const TOKEN = 'sk_live_Zx81TOKENvalue_9f2a7c';
// Behind a Bearer challenge, the body's code is the challenge's (issue 12).
const DENIED_BODY = { error: 'invalid_token', error_description: 'The credential was not accepted' };
const DENIED_CHALLENGE = `Bearer realm="api", error="invalid_token", error_description="The credential was not accepted"`;

/** Denial reasons a provider might write; each gets the token it was handed. */
const REASONS: [string, (token: string) => string][] = [
  ['the token itself', (token) => token],
  ['the token in a sentence', (token) => `unknown session ${token}`],
  ['the token twice', (token) => `${token}/${token}`],
  ['a short printable sentence', () => 'session expired'],
  ['quotes and backslashes', () => 'user "bob" at C:\\sessions is locked'],
  ['CR/LF header injection', (token) => `expired\r\nX-Injected: ${token}\r\n\r\n<h1>owned</h1>`],
  ['a lone LF', () => 'line one\nline two'],
  ['HTML', (token) => `<script>alert("${token}")</script>`],
  ['a 10 KB string', (token) => `${'A'.repeat(10 * 1024)}${token}`],
  ['U+2028 and U+0085', () => 'a\u2028b\u0085c'],
  ['an ANSI escape', () => '\u001b[31mred\u001b[0m'],
  ['non-ASCII', () => 'sesión caducada'],
  ['an empty string', () => ''],
];

describe.each(all)('customAuth refusals carry fixed sentences only, on $name', (framework) => {
  const lib = framework.lib;
  const r = resources(framework);
  afterAll(() => r.closeAll());

  /** Everything a client can read of a response. */
  const visible = (res: request.Response) => `${JSON.stringify(res.headers)}\n${res.text}`;

  it.each(REASONS)(
    'denied(%s): fixed 401, the reason only in the log, without the token',
    async (_label, reason) => {
      const logger = recordingLogger();
      const server = await r.serve([
        r.track(
          lib.customAuth({ authenticate: (token) => lib.AuthResult.denied(reason(token)) }, { logger }),
        ),
      ]);
      const res = await request(server.url).get('/').set('Authorization', `Bearer ${TOKEN}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(DENIED_BODY);
      expect(res.headers['www-authenticate']).toBe(DENIED_CHALLENGE);
      expect(res.headers['x-injected']).toBeUndefined();
      const text = visible(res);
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain('<script>');
      expect(text).not.toContain('owned');
      if (reason(TOKEN) !== '' && reason(TOKEN) !== DENIED_BODY.error_description) {
        expect(res.text).not.toContain(reason(TOKEN).slice(0, 12));
      }

      // The log keeps the reason (for the operator), as one line, bounded, with the token redacted.
      const denials = logger.lines.filter((line) => line.message.includes('denied'));
      if (reason(TOKEN) === '') {
        expect(denials).toEqual([]);
        return;
      }
      expect(denials).toHaveLength(1);
      const line = denials[0]!;
      expect(line.level).toBe('info');
      expect(line.message).not.toContain(TOKEN);
      // Printable ASCII only: no CR/LF, C1, U+2028 or escape sequence to forge or hide a line.
      expect(line.message).toMatch(/^[\x20-\x7e]*$/);
      expect(line.message.length).toBeLessThan(400);
      if (reason(TOKEN).includes(TOKEN) && reason(TOKEN).length < 200) {
        expect(line.message).toContain('[credential]');
      }
      if (reason(TOKEN) === 'session expired') expect(line.message).toContain('session expired');
    },
  );

  it('a logger without info gets the reason at warn', async () => {
    const logger = recordingLogger(false);
    const server = await r.serve([
      r.track(lib.customAuth({ authenticate: (token) => lib.AuthResult.denied(`bad ${token}`) }, { logger })),
    ]);
    const res = await request(server.url).get('/').set('Authorization', `Bearer ${TOKEN}`);
    expect(res.body).toEqual(DENIED_BODY);
    expect(logger.lines).toEqual([
      { level: 'warn', message: 'customAuth provider denied the credential: "bad [credential]"' },
    ]);
  });

  /** Providers that fail in every way, each with the token in what it throws. */
  const failing: [string, (token: string) => AuthResult | Promise<AuthResult>][] = [
    [
      'throws an Error with the token in its message',
      (token) => {
        throw new Error(`lookup failed for ${token} at postgres://u:hunter2@db`);
      },
    ],
    [
      'rejects with the token',
      async (token) => {
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error(token);
      },
    ],
    [
      'throws an Error whose name is the token',
      (token) => {
        const error = new Error('x');
        error.name = token;
        throw error;
      },
    ],
    [
      'throws an Error whose name has CR/LF',
      () => {
        const error = new Error('x');
        error.name = 'Bad\r\nX-Injected: 1';
        throw error;
      },
    ],
    [
      'throws the token as a string',
      (token) => {
        throw token;
      },
    ],
    [
      'returns a look-alike object with the token',
      (token) => ({ ok: false, reason: token }) as unknown as AuthResult,
    ],
    ['returns the token as a string', (token) => token as unknown as AuthResult],
  ];

  it.each(failing)(
    'a provider that %s: fixed 401, nothing of it in the response or the log',
    async (_label, authenticate) => {
      const logger = recordingLogger();
      const server = await r.serve([r.track(lib.customAuth({ authenticate }, { logger }))]);
      const res = await request(server.url).get('/').set('Authorization', `Bearer ${TOKEN}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(DENIED_BODY);
      expect(res.headers['www-authenticate']).toBe(DENIED_CHALLENGE);
      expect(res.headers['x-injected']).toBeUndefined();
      for (const leak of [TOKEN, 'hunter2', 'postgres://', 'lookup failed']) {
        expect(visible(res)).not.toContain(leak);
        for (const line of logger.lines) expect(line.message).not.toContain(leak);
      }
      for (const line of logger.lines) expect(line.message).not.toMatch(/[\r\n]/);
    },
  );

  it('delegateErrors hands the app the same fixed AuthError', async () => {
    const server = await r.serve(
      [
        r.track(
          lib.customAuth(
            { authenticate: (token) => lib.AuthResult.denied(`nope ${token}`) },
            { delegateErrors: true, logger: recordingLogger() },
          ),
        ),
      ],
      { errorHandler: true },
    );
    const res = await request(server.url).get('/').set('Authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ handledBy: 'app', code: 'invalid_token' });
    expect(res.text).not.toContain(TOKEN);
  });
});
