import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthResult } from '../src/index.js';
import type { Echo, Framework, ServeOptions, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { mountAt } from './support/mount.js';
import { startRecordingUpstream } from './support/recording-upstream.js';

// Issue 11, "Credentials", on both adapters: the consumed credential is gone from every view
// the app reads (Koa's href/URL/request.originalUrl/querystring/query, Express's url,
// originalUrl and req.query with every query parser); every spelling a parser folds into the
// credential's name counts as an occurrence and is stripped; a malformed scheme separator is a
// present, invalid credential; anyAuth refuses a credential sent twice before any member
// authenticates; a credential is never trimmed.

const all = await frameworks();

const KEY = 'ak_live_7f3c9a1e5b2d4f60c8';
const OTHER = 'ak_live_0000000000000000zz';
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const records = () => [{ name: 'svc', key: KEY, scopes: ['read'] }];
const SESAME = 'open-sesame-4b1d';
const PASSWORD = 'correct horse';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');
const HTPASSWD = `alice:{SHA}${createHash('sha1').update(PASSWORD).digest('base64')}\n`;

let signer: TestKey;
let JWT: string;
beforeAll(async () => {
  signer = await makeKey('RS256');
  JWT = await sign(signer);
});
const jwtOptions = (extra: Record<string, unknown> = {}) => ({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: jwks(signer) },
  ...extra,
});

type Mode = 'strict' | 'optional' | 'permissive';
const MODES: readonly Mode[] = ['strict', 'optional', 'permissive'];

/** A request as bytes, for what Node's client refuses to send (raw UTF-8 in a header, repeats). */
function rawRequest(url: string, target: string, headerLines: (string | Buffer)[]) {
  const { hostname, port } = new URL(url);
  const head = Buffer.concat([
    Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`, 'latin1'),
    ...headerLines.map((line) => Buffer.concat([Buffer.from(line as string, 'latin1'), Buffer.from('\r\n')])),
    Buffer.from('\r\n'),
  ]);
  return new Promise<{ status: number; body: string; text: string }>((resolve, reject) => {
    // Written, not ended: a half-closed request looks aborted to a proxy. `Connection: close` ends it.
    const socket = connect(Number(port), hostname, () => socket.write(head));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(text.slice(9, 12));
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4), text });
    });
  });
}

/** The key as it travels in one line of bytes: `Name: <prefix>KEY<suffix bytes>`. */
const line = (name: string, value: string, suffix: number[] = []) =>
  Buffer.concat([Buffer.from(`${name}: ${value}`, 'latin1'), Buffer.from(suffix)]);

/** Reads every cached URL view before authentication, so a stale cache would show. */
function primer(framework: Framework): unknown {
  if (framework.name.startsWith('koa')) {
    return async (
      ctx: { URL: URL; query: unknown; href: string; search: string },
      next: () => Promise<void>,
    ) => {
      void ctx.URL;
      void ctx.query;
      void ctx.href;
      void ctx.search;
      await next();
    };
  }
  return (req: { query: unknown }, _res: unknown, next: () => void) => {
    void req.query;
    next();
  };
}

// ---------------------------------------------------------------------------------------------
// Query parameters: every view, every parser, every spelling.

/** The apps a query case runs on: Koa as is; Express with each 'query parser' setting. */
function queryApps(framework: Framework): { label: string; options: ServeOptions }[] {
  if (framework.name.startsWith('koa')) return [{ label: 'default', options: {} }];
  return [
    { label: 'default', options: {} },
    { label: 'extended', options: { queryParser: 'extended' } },
    { label: 'simple', options: { queryParser: 'simple' } },
    { label: 'false', options: { queryParser: false } },
    { label: 'function', options: { queryParser: (query: string) => ({ ...parseQueryString(query) }) } },
  ];
}

const REST = 'x=1&y=a%20b';

/** Requests whose one credential is read and stripped, and the URL the app must see after. */
const STRIPPED = [
  { target: `/echo?access_token=${KEY}&${REST}`, after: `/echo?${REST}` },
  { target: `/echo?x=1&access_token=${KEY}&y=a%20b`, after: `/echo?${REST}` },
  { target: `/echo?${REST}&access_token=${KEY}`, after: `/echo?${REST}` },
  { target: `/echo?access%5Ftoken=${KEY}&${REST}`, after: `/echo?${REST}` },
  { target: `/echo?%61ccess_token=${KEY}&${REST}`, after: `/echo?${REST}` },
  {
    target: `/echo?${REST}&access_token=${encodeURIComponent(KEY).replace('_', '%5F')}`,
    after: `/echo?${REST}`,
  },
  { target: `/echo?access_token=${KEY}`, after: '/echo' },
];

/** Another spelling of the name that some parser reads as `access_token`. */
const VARIANTS = [
  'access_token[]',
  'access_token[0]',
  'access_token[a]',
  'access_token[][]',
  'access_token[',
  'access_token%5B%5D',
  'access_token%5b0%5d',
  '[access_token]',
  'ACCESS_TOKEN',
  'Access_Token',
  'access%5FTOKEN',
  'access.token',
  'access+token',
  'access%20token',
  '%20access_token',
  'access_token%20',
  'access_token+',
  'access_token%00',
  'access_token[%FF]',
];

/** Values that are the key plus whitespace or an invisible character: another credential. */
const PADDED_VALUES = [
  `${KEY}%20`,
  `${KEY}+`,
  `%20${KEY}`,
  `+${KEY}`,
  `${KEY}%09`,
  `${KEY}%0A`,
  `${KEY}%0D%0A`,
  `${KEY}%C2%A0`,
  `%EF%BB%BF${KEY}`,
  `${KEY}%E2%80%A8`,
  `${KEY}%E3%80%80`,
  `${KEY}%EF%BB%BF`,
  `${KEY}%0B`,
  `${KEY}%00`,
];

describe.each(all)('query credential views on $name', (framework) => {
  const apps = queryApps(framework);
  const servers = new Map<string, TestServer>();
  const made: { close(): Promise<void> }[] = [];
  const server = (label: string, mode: Mode) => servers.get(`${label}/${mode}`)!;

  beforeAll(async () => {
    for (const { label, options } of apps) {
      for (const mode of MODES) {
        const auth = framework.lib.apiKeyAuth({
          keys: records(),
          location: { queryParameter: { name: 'access_token' } },
          mode,
        });
        made.push(auth);
        servers.set(`${label}/${mode}`, await framework.serve([primer(framework), auth], options));
      }
    }
  });
  afterAll(async () => {
    for (const s of servers.values()) await s.close();
    for (const m of made) await m.close();
  });

  const stripTable = apps.flatMap(({ label }) => STRIPPED.map((c) => ({ label, ...c })));
  it.each(stripTable)(
    '[$label parser] $target -> 200, every view shows $after',
    async ({ label, target, after }) => {
      const s = server(label, 'strict');
      const res = await request(s.url).get(target);
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth).toMatchObject({ subject: 'svc', method: 'apiKey' });
      expect(echo.url).toBe(after);
      expect(echo.originalUrl).toBe(after);
      const parsed = label === 'false' || after === '/echo' ? {} : { x: '1', y: 'a b' };
      expect(echo.query).toEqual(parsed);
      if (echo.koa !== undefined) {
        const search = after === '/echo' ? '' : `?${REST}`;
        expect(echo.koa).toEqual({
          href: `${s.url}${after}`,
          URL: `${s.url}${after}`,
          requestOriginalUrl: after,
          querystring: search.slice(1),
          search,
          path: '/echo',
        });
      }
      expect(res.text).not.toContain(KEY);
      expect(res.text).not.toContain(KEY.slice(8));
    },
  );

  const repeatedTable = apps.flatMap(({ label }) =>
    MODES.flatMap((mode) =>
      [...VARIANTS, 'access_token', 'access%5Ftoken'].map((variant) => ({ label, mode, variant })),
    ),
  );
  it.each(repeatedTable)(
    '[$label parser] $mode: access_token=KEY&$variant=... is sent twice -> 400',
    async ({ label, mode, variant }) => {
      for (const target of [
        `/echo?access_token=${KEY}&${variant}=${KEY}`,
        `/echo?${variant}=${OTHER}&x=1&access_token=${KEY}`,
      ]) {
        const res = await request(server(label, mode).url).get(target);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: 'invalid_request',
          error_description: 'The credential was sent more than once',
        });
        expect(res.headers['www-authenticate']).toMatch(/^ApiKey realm="api", query="access_token"/);
        expect(res.text).not.toContain(KEY);
      }
    },
  );

  const loneTable = apps.flatMap(({ label }) =>
    MODES.flatMap((mode) => VARIANTS.map((variant) => ({ label, mode, variant }))),
  );
  it.each(loneTable)(
    '[$label parser] $mode: a lone $variant=KEY is present and malformed',
    async ({ label, mode, variant }) => {
      const res = await request(server(label, mode).url).get(`/echo?${variant}=${KEY}&x=1`);
      if (mode === 'permissive') {
        // Permissive passes an invalid credential on untouched (the documented modes table).
        expect(res.status).toBe(200);
        expect((res.body as Echo).auth).toBeNull();
        return;
      }
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: 'invalid_request',
        error_description: 'The credential is malformed',
      });
      expect(res.text).not.toContain(KEY);
    },
  );

  const paddedTable = apps.flatMap(({ label }) =>
    (['strict', 'optional'] as const).flatMap((mode) =>
      PADDED_VALUES.map((value) => ({ label, mode, value })),
    ),
  );
  it.each(paddedTable)(
    '[$label parser] $mode: access_token=$value is not the key -> 401',
    async ({ label, mode, value }) => {
      const res = await request(server(label, mode).url).get(`/echo?access_token=${value}`);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_credentials');
      expect(res.text).not.toContain(KEY);
    },
  );

  it('an absolute-form target loses the credential from every view too', async () => {
    for (const { label } of apps) {
      const s = server(label, 'strict');
      const res = await rawRequest(s.url, `${s.url}/echo?access_token=${KEY}&x=1`, []);
      expect(res.status).toBe(200);
      const echo = JSON.parse(res.body) as Echo;
      expect(echo.auth).toMatchObject({ subject: 'svc' });
      expect(echo.url).not.toContain('access_token');
      expect(echo.originalUrl).not.toContain('access_token');
      expect(res.body).not.toContain(KEY);
    }
  });

  it('a middleware mounted under a path strips from the URLs the framework restores after it', async () => {
    const auth = framework.lib.apiKeyAuth({
      keys: records(),
      location: { queryParameter: { name: 'access_token' } },
    });
    for (const { options } of apps) {
      const s = await framework.serve([await mountAt(framework, '/v1', auth)], options);
      try {
        const res = await request(s.url).get(`/v1/echo?x=1&access_token%5B%5D=${OTHER}`);
        expect(res.status).toBe(401);
        const ok = await request(s.url).get(`/v1/echo?x=1&access_token=${KEY}`);
        expect(ok.status).toBe(200);
        const echo = ok.body as Echo;
        expect(echo.url).toBe('/v1/echo?x=1');
        expect(echo.originalUrl).toBe('/v1/echo?x=1');
        expect(ok.text).not.toContain(KEY);
      } finally {
        await s.close();
      }
    }
    await auth.close();
  });

  it('parseurl caches on the request hold no credential after the strip', async () => {
    const peek = (req: {
      _parsedUrl?: { href?: string };
      _parsedOriginalUrl?: { href?: string };
      req?: unknown;
    }) => {
      const node = (req.req ?? req) as {
        _parsedUrl?: { href?: string };
        _parsedOriginalUrl?: { href?: string };
      };
      return JSON.stringify([node._parsedUrl?.href ?? null, node._parsedOriginalUrl?.href ?? null]);
    };
    const auth = framework.lib.apiKeyAuth({
      keys: records(),
      location: { queryParameter: { name: 'access_token' } },
    });
    const koa = framework.name.startsWith('koa');
    const report = koa
      ? async (ctx: { body: unknown }) => {
          ctx.body = { parsed: peek(ctx as never) };
        }
      : (req: never, res: { json(body: unknown): void }) => res.json({ parsed: peek(req) });
    const s = await framework.serve([primer(framework), auth, report]);
    try {
      const res = await request(s.url).get(`/echo?access_token=${KEY}&x=1`);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(KEY);
    } finally {
      await s.close();
      await auth.close();
    }
  });

  it('a value that does not percent-decode is malformed, not empty and not absent', async () => {
    for (const mode of ['strict', 'optional'] as const) {
      for (const value of ['%', '%E0%A4%A', `${KEY}%FF`, `${KEY}%`]) {
        const res = await request(server('default', mode).url).get(`/echo?access_token=${value}`);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_request');
      }
    }
  });

  it('names that merely start like the credential are other parameters, left alone', async () => {
    const s = server('default', 'optional');
    for (const other of [
      'access_tokens',
      'xaccess_token',
      'access_token_hint',
      'access-token',
      'accesstoken',
    ]) {
      const res = await request(s.url).get(`/echo?${other}=v&x=1`);
      expect(res.status).toBe(200);
      expect((res.body as Echo).url).toBe(`/echo?${other}=v&x=1`);
    }
  });
});

describe.each(all)('query tokens for jwtAuth and customAuth on $name', (framework) => {
  let jwtServer: TestServer;
  let customServer: TestServer;
  const made: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    const jwt = framework.lib.jwtAuth(jwtOptions({ location: { queryParameter: { name: 'access_token' } } }));
    const custom = framework.lib.customAuth(
      {
        authenticate: (token: string) =>
          token === SESAME ? AuthResult.ok({ subject: 'ali' }) : AuthResult.denied(),
      },
      { location: { queryParameter: { name: 'token' } } },
    );
    made.push(jwt, custom);
    jwtServer = await framework.serve([primer(framework), jwt], { queryParser: 'extended' });
    customServer = await framework.serve([primer(framework), custom], { queryParser: 'extended' });
  });
  afterAll(async () => {
    await jwtServer.close();
    await customServer.close();
    for (const m of made) await m.close();
  });

  it('a JWT is read and stripped from every view; a padded or bracketed one is refused', async () => {
    const ok = await request(jwtServer.url).get(`/echo?q=1&access_token=${JWT}`);
    expect(ok.status).toBe(200);
    expect((ok.body as Echo).url).toBe('/echo?q=1');
    expect((ok.body as Echo).query).toEqual({ q: '1' });
    expect(ok.text).not.toContain(JWT);
    for (const target of [
      `/echo?access_token=${JWT}%20`,
      `/echo?access_token=${JWT}+`,
      `/echo?access_token=%20${JWT}`,
      `/echo?access_token=${JWT}%0A`,
      `/echo?access_token=${JWT}%C2%A0`,
    ]) {
      const res = await request(jwtServer.url).get(target);
      expect(res.status).toBe(401);
      expect(res.text).not.toContain(JWT);
    }
    const twice = await request(jwtServer.url).get(`/echo?access_token=${JWT}&access_token[]=${JWT}`);
    expect(twice.status).toBe(400);
    const lone = await request(jwtServer.url).get(`/echo?access_token[]=${JWT}`);
    expect(lone.status).toBe(401);
    // A query parameter is not RFC 6750's header: jwt's own challenge names it (issue 12).
    expect(lone.headers['www-authenticate']).toMatch(
      /^JWT realm="api", query="access_token", error="invalid_request"/,
    );
  });

  it('customAuth gets the token exactly as sent: padded spellings are not the token', async () => {
    expect((await request(customServer.url).get(`/echo?token=${SESAME}`)).status).toBe(200);
    for (const value of [
      `${SESAME}%20`,
      `${SESAME}+`,
      `%09${SESAME}`,
      `${SESAME}%C2%A0`,
      `${SESAME}%EF%BB%BF`,
    ]) {
      const res = await request(customServer.url).get(`/echo?token=${value}`);
      expect(res.status).toBe(401);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Cookies.

describe.each(all)('cookie credentials on $name', (framework) => {
  const servers = new Map<Mode, TestServer>();
  const made: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    for (const mode of MODES) {
      const auth = framework.lib.apiKeyAuth({ keys: records(), location: { cookie: { name: 'sid' } }, mode });
      made.push(auth);
      servers.set(mode, await framework.serve([auth]));
    }
  });
  afterAll(async () => {
    for (const s of servers.values()) await s.close();
    for (const m of made) await m.close();
  });

  const stripped = [
    { cookies: [`sid=${KEY}`], after: undefined },
    { cookies: [`a=1; sid=${KEY}; b=2`], after: 'a=1; b=2' },
    { cookies: [`sid="${KEY}"; a=1`], after: 'a=1' },
    { cookies: [`sid=${KEY.replace('_', '%5F')}`], after: undefined },
    { cookies: ['a=1', `sid=${KEY}`], after: 'a=1' },
    { cookies: ['a=1', `sid=${KEY}`, 'b=2'], after: 'a=1; b=2' },
  ];
  it.each(stripped)('$cookies -> 200, the app sees cookie $after', async ({ cookies, after }) => {
    const res = await rawRequest(
      servers.get('strict')!.url,
      '/echo',
      cookies.map((c) => `Cookie: ${c}`),
    );
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as Echo;
    expect(echo.auth).toMatchObject({ subject: 'svc' });
    expect(echo.headers.cookie).toBe(after);
    expect(
      echo.rawHeaders.filter((_, i) => i % 2 === 0).filter((h) => h.toLowerCase() === 'cookie').length,
    ).toBe(after === undefined ? 0 : 1);
    expect(res.body).not.toContain(KEY);
  });

  const repeated = MODES.flatMap((mode) =>
    [
      [`sid=${KEY}; sid=${KEY}`],
      [`sid=${KEY}; sid=${OTHER}`],
      [`sid=${KEY}`, `sid=${OTHER}`],
      [`a=1`, `sid=${KEY}`, `sid=${KEY}`],
      [`sid=${KEY}; SID=${OTHER}`],
      [`sid=${KEY}; Sid=${OTHER}`],
      [`sid=${KEY}; s%69d=${OTHER}`],
      [`sid=${KEY}; sid[]=${OTHER}`],
      [`sid=${KEY}; sid =${OTHER}`],
      [`sid=${KEY}; sid`],
      [`sid=${KEY}`, `SID=${OTHER}`],
    ].map((cookies) => ({ mode, cookies })),
  );
  it.each(repeated)('$mode: $cookies is sent twice -> 400', async ({ mode, cookies }) => {
    const res = await rawRequest(
      servers.get(mode)!.url,
      '/echo',
      cookies.map((c) => `Cookie: ${c}`),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toBe('invalid_request');
    expect(res.text).not.toContain(KEY);
  });

  const lone = (['strict', 'optional'] as const).flatMap((mode) =>
    [`SID=${KEY}`, `s%69d=${KEY}`, `sid[]=${KEY}`, `sid =${KEY}`, `sid%20=${KEY}`, 'sid'].map((cookie) => ({
      mode,
      cookie,
    })),
  );
  it.each(lone)('$mode: a lone $cookie is present and malformed -> 401', async ({ mode, cookie }) => {
    const res = await request(servers.get(mode)!.url).get('/echo').set('Cookie', `a=1; ${cookie}`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_request');
  });

  const padded = (['strict', 'optional'] as const).flatMap((mode) =>
    [
      line('Cookie', `sid=${KEY}%20`),
      line('Cookie', `sid=${KEY}%09`),
      line('Cookie', `sid=${KEY}%0A`),
      line('Cookie', `sid="${KEY} "`),
      line('Cookie', `sid=" ${KEY}"`),
      line('Cookie', `sid= ${KEY}`),
      line('Cookie', `sid=${KEY} ; a=1`),
      line('Cookie', `sid=${KEY}\t; a=1`),
      line('Cookie', `sid=${KEY}%C2%A0`),
      line('Cookie', `sid=${KEY}`, [0xc2, 0xa0]),
      line('Cookie', `sid=${KEY}`, [0xef, 0xbb, 0xbf]),
      line('Cookie', `sid=${KEY}`, [0xe2, 0x80, 0xa8]),
      line('Cookie', `sid=${KEY}\u00a0`),
      line('Cookie', `sid=${KEY}+`),
      line('Cookie', `sid=${KEY}%EF%BB%BF`),
      line('Cookie', `sid=%20${KEY}`),
    ].map((bytes, index) => ({ mode, index, bytes })),
  );
  it.each(padded)('$mode: padded cookie value #$index is not the key -> 401', async ({ mode, bytes }) => {
    const res = await rawRequest(servers.get(mode)!.url, '/echo', [bytes]);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_credentials');
  });
});

describe.each(all)('cookies a framework parsed before us on $name', (framework) => {
  it('are gone from req.cookies / req.signedCookies (cookie-parser) and ctx.cookies', async () => {
    const koa = framework.name.startsWith('koa');
    // What cookie-parser does: parse the header once, into own properties of req.
    const parser = (
      req: { headers: { cookie?: string }; cookies?: unknown; signedCookies?: unknown },
      _res: unknown,
      next: () => void,
    ) => {
      const pairs = (req.headers.cookie ?? '').split('; ').map((pair) => pair.split('='));
      req.cookies = Object.fromEntries(pairs);
      req.signedCookies = Object.fromEntries(pairs.map(([k, v]) => [k, `signed:${v}`]));
      next();
    };
    const report = koa
      ? async (ctx: { cookies: { get(name: string): string | undefined }; body: unknown }) => {
          ctx.body = { sid: ctx.cookies.get('sid') ?? null, a: ctx.cookies.get('a') ?? null };
        }
      : (req: { cookies: unknown; signedCookies: unknown }, res: { json(body: unknown): void }) =>
          res.json({ cookies: req.cookies, signed: req.signedCookies });
    const auth = framework.lib.apiKeyAuth({ keys: records(), location: { cookie: { name: 'sid' } } });
    const s = await framework.serve(koa ? [auth, report] : [parser, auth, report]);
    try {
      const res = await request(s.url).get('/echo').set('Cookie', `a=1; sid=${KEY}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(
        koa ? { sid: null, a: '1' } : { cookies: { a: '1' }, signed: { a: 'signed:1' } },
      );
      expect(res.text).not.toContain(KEY);
    } finally {
      await s.close();
      await auth.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Header credentials: the separator after the scheme, and no trimming.

interface SchemeCase {
  scheme: string;
  word: string;
  credential: () => string;
  header: string;
  challenge: RegExp;
  make(lib: Framework['lib'], mode: Mode): { close(): Promise<void> };
}

const SCHEMES: SchemeCase[] = [
  {
    scheme: 'jwtAuth',
    word: 'Bearer',
    credential: () => JWT,
    header: 'authorization',
    challenge: /^Bearer realm="api", error="invalid_request"/,
    make: (lib, mode) => lib.jwtAuth(jwtOptions({ mode })),
  },
  {
    scheme: 'apiKeyAuth (Bearer)',
    word: 'Bearer',
    credential: () => KEY,
    header: 'authorization',
    challenge: /^Bearer realm="api", error="invalid_request"/,
    make: (lib, mode) => lib.apiKeyAuth({ keys: records(), mode }),
  },
  {
    scheme: 'apiKeyAuth (x-api-key, prefix ApiKey)',
    word: 'ApiKey',
    credential: () => KEY,
    header: 'x-api-key',
    challenge: /^ApiKey realm="api", header="x-api-key"/,
    make: (lib, mode) =>
      lib.apiKeyAuth({
        keys: records(),
        mode,
        location: { header: { name: 'x-api-key', prefix: 'ApiKey ' } },
      }),
  },
  {
    scheme: 'basicAuth',
    word: 'Basic',
    credential: () => BASIC,
    header: 'authorization',
    challenge: /^Basic realm="Restricted"/,
    make: (lib, mode) => lib.basicAuth({ htpasswd: HTPASSWD, mode }),
  },
  {
    scheme: 'basicAuth (Proxy-Authorization)',
    word: 'Basic',
    credential: () => BASIC,
    header: 'proxy-authorization',
    challenge: /^Basic realm="Restricted"/,
    make: (lib, mode) =>
      lib.basicAuth({
        htpasswd: HTPASSWD,
        mode,
        location: { header: { name: 'proxy-authorization', prefix: 'Basic ' } },
      }),
  },
  {
    scheme: 'customAuth',
    word: 'Bearer',
    credential: () => SESAME,
    header: 'authorization',
    challenge: /^Bearer realm="api", error="invalid_request"/,
    make: (lib, mode) =>
      lib.customAuth(
        {
          authenticate: (token: string) =>
            token === SESAME ? AuthResult.ok({ subject: 'ali' }) : AuthResult.denied(),
        },
        { mode },
      ),
  },
];

/** Separators that are not 1*SP: the value is ours (our scheme's token) and malformed. */
const BAD_SEPARATORS = ['\t', '\t ', '\u00a0', ':', ': ', ',', '=', ';', '/', '"', '\\', '(', '@', '\u0085'];

describe.each(all)('header credentials on $name', (framework) => {
  const servers = new Map<string, TestServer>();
  const made: { close(): Promise<void> }[] = [];
  const server = (scheme: string, mode: Mode) => servers.get(`${scheme}/${mode}`)!;
  beforeAll(async () => {
    for (const c of SCHEMES) {
      for (const mode of MODES) {
        const auth = c.make(framework.lib, mode);
        made.push(auth);
        servers.set(`${c.scheme}/${mode}`, await framework.serve([auth]));
      }
    }
  });
  afterAll(async () => {
    for (const s of servers.values()) await s.close();
    for (const m of made) await m.close();
  });

  const malformed = SCHEMES.flatMap((c) =>
    MODES.flatMap((mode) =>
      BAD_SEPARATORS.flatMap((separator) =>
        [c.word, c.word.toUpperCase(), c.word.toLowerCase()].map((word) => ({
          scheme: c.scheme,
          mode,
          shown: JSON.stringify(`${word}${separator}`),
          word,
          separator,
        })),
      ),
    ),
  );
  it.each(malformed)(
    '$scheme, $mode: $shown<credential> is present and invalid',
    async ({ scheme, mode, word, separator }) => {
      const c = SCHEMES.find((s) => s.scheme === scheme)!;
      const res = await rawRequest(server(scheme, mode).url, '/echo', [
        line(c.header, `${word}${separator}${c.credential()}`),
      ]);
      if (mode === 'permissive') {
        expect(res.status).toBe(200);
        expect((JSON.parse(res.body) as Echo).auth).toBeNull();
        return;
      }
      expect(res.status).toBe(c.header === 'proxy-authorization' ? 407 : 401);
      expect(JSON.parse(res.body)).toEqual({
        error: 'invalid_request',
        error_description: 'The credential is malformed',
      });
      const challenge = c.header === 'proxy-authorization' ? 'proxy-authenticate' : 'www-authenticate';
      expect(res.text.toLowerCase()).toContain(`${challenge}: `);
      expect(
        res.text
          .split('\r\n')
          .find((l) => l.toLowerCase().startsWith(`${challenge}:`))
          ?.slice(challenge.length + 2),
      ).toMatch(c.challenge);
      expect(res.text).not.toContain(c.credential());
    },
  );

  const spaces = SCHEMES.flatMap((c) =>
    (['strict', 'optional'] as const).flatMap((mode) =>
      [1, 2, 5].map((n) => ({ scheme: c.scheme, mode, n })),
    ),
  );
  it.each(spaces)(
    '$scheme, $mode: $n spaces after the scheme -> 200 and stripped',
    async ({ scheme, mode, n }) => {
      const c = SCHEMES.find((s) => s.scheme === scheme)!;
      const res = await rawRequest(server(scheme, mode).url, '/echo', [
        line(c.header, `${c.word}${' '.repeat(n)}${c.credential()}`),
      ]);
      expect(res.status).toBe(200);
      const echo = JSON.parse(res.body) as Echo;
      expect(echo.auth).not.toBeNull();
      expect(echo.headers[c.header]).toBeUndefined();
      expect(res.body).not.toContain(c.credential());
    },
  );

  const others = SCHEMES.flatMap((c) =>
    [
      `Other ${'x'.repeat(8)}`,
      `${c.word}ish abc`,
      `X${c.word} abc`,
      `${c.word}-v2 abc`,
      `Digest username="a"`,
    ].map((value) => ({
      scheme: c.scheme,
      value,
    })),
  );
  it.each(others)(
    '$scheme, optional: another scheme "$value" is no credential -> 200, left in place',
    async ({ scheme, value }) => {
      const c = SCHEMES.find((s) => s.scheme === scheme)!;
      const res = await rawRequest(server(scheme, 'optional').url, '/echo', [line(c.header, value)]);
      expect(res.status).toBe(200);
      const echo = JSON.parse(res.body) as Echo;
      expect(echo.auth).toBeNull();
      expect(echo.headers[c.header]).toBe(value);
    },
  );

  // Node removes SP and HTAB around a field value (HTTP's OWS); everything else stays.
  const padded = SCHEMES.flatMap((c) =>
    (['strict', 'optional'] as const).flatMap((mode) =>
      [
        { label: 'NBSP after', prefix: '', suffix: [0xa0] },
        { label: 'UTF-8 NBSP after', prefix: '', suffix: [0xc2, 0xa0] },
        { label: 'UTF-8 BOM after', prefix: '', suffix: [0xef, 0xbb, 0xbf] },
        { label: 'U+2028 after', prefix: '', suffix: [0xe2, 0x80, 0xa8] },
        { label: 'NBSP before', prefix: '\u00a0', suffix: [] },
        { label: 'TAB before', prefix: '\t', suffix: [] },
        { label: 'VT after', prefix: '', suffix: [0x0b] },
        { label: 'FF after', prefix: '', suffix: [0x0c] },
      ].map((p) => ({ scheme: c.scheme, mode, ...p })),
    ),
  );
  it.each(padded)(
    '$scheme, $mode: $label the credential -> 401',
    async ({ scheme, mode, prefix, suffix }) => {
      const c = SCHEMES.find((s) => s.scheme === scheme)!;
      const res = await rawRequest(server(scheme, mode).url, '/echo', [
        line(c.header, `${c.word} ${prefix}${c.credential()}`, suffix),
      ]);
      // A bare CTL in a field value may be refused by Node itself (400): never a 200.
      expect([400, 401, 407]).toContain(res.status);
      expect(res.text).not.toContain(c.credential());
    },
  );
});

describe.each(all)('x-api-key without a prefix on $name', (framework) => {
  let s: TestServer;
  let auth: { close(): Promise<void> };
  beforeAll(async () => {
    auth = framework.lib.apiKeyAuth({
      keys: records(),
      mode: 'optional',
      location: { header: { name: 'x-api-key' } },
    });
    s = await framework.serve([auth]);
  });
  afterAll(async () => {
    await s.close();
    await auth.close();
  });

  it('the key exactly as stored -> 200, with OWS around the field (HTTP, removed by Node) too', async () => {
    for (const value of [KEY, ` ${KEY}`, `${KEY} `, `\t${KEY}\t`]) {
      const res = await rawRequest(s.url, '/echo', [line('X-Api-Key', value)]);
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as Echo).headers['x-api-key']).toBeUndefined();
    }
  });

  it.each([
    { label: 'NBSP', bytes: line('X-Api-Key', `${KEY}\u00a0`) },
    { label: 'UTF-8 NBSP', bytes: line('X-Api-Key', KEY, [0xc2, 0xa0]) },
    { label: 'BOM', bytes: line('X-Api-Key', '', [0xef, 0xbb, 0xbf, ...Buffer.from(KEY)]) },
    { label: 'U+2028', bytes: line('X-Api-Key', KEY, [0xe2, 0x80, 0xa8]) },
    { label: 'U+3000', bytes: line('X-Api-Key', KEY, [0xe3, 0x80, 0x80]) },
    { label: 'encoded %20', bytes: line('X-Api-Key', `${KEY}%20`) },
    { label: 'inner space', bytes: line('X-Api-Key', `${KEY.slice(0, 5)} ${KEY.slice(5)}`) },
  ])('$label around the key -> 401 invalid_credentials', async ({ bytes }) => {
    const res = await rawRequest(s.url, '/echo', [bytes]);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_credentials');
  });

  it.each([
    { lines: [`X-Api-Key: ${KEY}`, `X_Api_Key: ${OTHER}`], status: 400 },
    { lines: [`X_API_KEY: ${OTHER}`, `x-api-key: ${KEY}`], status: 400 },
    { lines: [`X-Api-Key: ${KEY}`, `x_api-key: ${KEY}`], status: 400 },
    { lines: [`X_Api_Key: ${KEY}`], status: 401 },
    { lines: [`x-api_key: ${KEY}`], status: 401 },
  ])(
    'underscore spellings of the header count as the header: $lines -> $status',
    async ({ lines, status }) => {
      const res = await rawRequest(s.url, '/echo', lines);
      expect(res.status).toBe(status);
      expect(JSON.parse(res.body).error).toBe('invalid_request');
    },
  );

  it('an underscore spelling never reaches the upstream, even when permissive lets it pass', async () => {
    const upstream = await startRecordingUpstream();
    const permissive = framework.lib.apiKeyAuth({
      keys: records(),
      mode: 'permissive',
      location: { header: { name: 'x-api-key' } },
    });
    const backend = framework.lib.backendAuth({ key: 'sk-upstream-123', upstream: upstream.url });
    const proxied = await framework.serve([permissive, backend], { forwardTo: upstream.url });
    try {
      const res = await rawRequest(proxied.url, '/v1', [`X_Api_Key: ${OTHER}`, 'X-Other: 1']);
      expect(res.status).toBe(200);
      const seen = upstream.last();
      expect(seen.headers['x-other']).toBe('1');
      expect(JSON.stringify(seen)).not.toContain(OTHER);
    } finally {
      await proxied.close();
      await permissive.close();
      await backend.close();
      await upstream.close();
    }
  });

  it('an empty x-api-key is present and empty -> 401 invalid_request', async () => {
    const res = await rawRequest(s.url, '/echo', ['X-Api-Key: ']);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_request');
  });
});

// ---------------------------------------------------------------------------------------------
// anyAuth.

describe.each(all)('anyAuth with a credential sent twice on $name', (framework) => {
  const servers = new Map<Mode, TestServer>();
  const made: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    for (const mode of MODES) {
      const any = framework.lib.anyAuth(
        framework.lib.apiKeyAuth({ keys: records(), location: { header: { name: 'x-api-key' } } }),
        framework.lib.jwtAuth(jwtOptions()),
        framework.lib.apiKeyAuth({ keys: records(), location: { cookie: { name: 'sid' } } }),
        framework.lib.customAuth(
          {
            authenticate: (token: string) =>
              token === SESAME ? AuthResult.ok({ subject: 'ali' }) : AuthResult.denied(),
          },
          { location: { queryParameter: { name: 'token' } } },
        ),
        { mode },
      );
      made.push(any);
      servers.set(mode, await framework.serve([any], { queryParser: 'extended' }));
    }
  });
  afterAll(async () => {
    for (const s of servers.values()) await s.close();
    for (const m of made) await m.close();
  });

  const twice = (): { label: string; target: string; lines: string[] }[] => [
    {
      label: 'valid key, Authorization twice',
      target: '/echo',
      lines: [`X-Api-Key: ${KEY}`, `Authorization: Bearer ${JWT}`, 'Authorization: Bearer x'],
    },
    {
      label: 'valid key, same JWT twice',
      target: '/echo',
      lines: [`X-Api-Key: ${KEY}`, `Authorization: Bearer ${JWT}`, `Authorization: Bearer ${JWT}`],
    },
    {
      label: 'valid JWT, x-api-key twice',
      target: '/echo',
      lines: [`Authorization: Bearer ${JWT}`, `X-Api-Key: ${KEY}`, `x-api-key: ${OTHER}`],
    },
    {
      label: 'valid key, cookie twice',
      target: '/echo',
      lines: [`X-Api-Key: ${KEY}`, `Cookie: sid=${KEY}; SID=${OTHER}`],
    },
    {
      label: 'valid key, query token twice',
      target: `/echo?token=${SESAME}&token[]=x`,
      lines: [`X-Api-Key: ${KEY}`],
    },
    {
      label: 'valid JWT, query token in brackets twice',
      target: '/echo?token[0]=a&token[1]=b',
      lines: [`Authorization: Bearer ${JWT}`],
    },
    {
      label: 'valid query token, Authorization twice',
      target: `/echo?token=${SESAME}`,
      lines: ['Authorization: Basic x', 'Authorization: Bearer y'],
    },
  ];
  const table = MODES.flatMap((mode) => twice().map(({ label }) => ({ mode, label })));
  it.each(table)('$mode: $label -> 400 before any member authenticates', async ({ mode, label }) => {
    const c = twice().find((t) => t.label === label)!;
    const res = await rawRequest(servers.get(mode)!.url, c.target, c.lines);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      error: 'invalid_request',
      error_description: 'The credential was sent more than once',
    });
    expect(res.text).not.toContain(KEY);
    expect(res.text).not.toContain(JWT);
  });

  it('one credential at each location still authenticates (the first member that accepts wins)', async () => {
    const res = await rawRequest(servers.get('strict')!.url, `/echo?token=${SESAME}`, [
      `X-Api-Key: ${KEY}`,
      `Authorization: Bearer ${JWT}`,
    ]);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as Echo).auth).toMatchObject({ method: 'apiKey', subject: 'svc' });
  });

  it('a malformed separator on one member and nothing elsewhere -> 401 in optional', async () => {
    const res = await rawRequest(servers.get('optional')!.url, '/echo', [`Authorization: Bearer\t${JWT}`]);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_request');
  });
});

describe.each(all)('anyAuth: an invalid credential beside a winning one on $name', (framework) => {
  it('is left to the app (only the winner is stripped) and never reaches the upstream', async () => {
    const upstream = await startRecordingUpstream();
    const any = framework.lib.anyAuth(
      framework.lib.apiKeyAuth({ keys: records(), location: { header: { name: 'x-api-key' } } }),
      framework.lib.jwtAuth(jwtOptions()),
      framework.lib.apiKeyAuth({ keys: records(), location: { queryParameter: { name: 'api_key' } } }),
    );
    const backend = framework.lib.backendAuth({ key: 'sk-upstream-123', upstream: upstream.url });
    const proxied = await framework.serve([any, backend], { forwardTo: upstream.url });
    const echoed = await framework.serve([any]);
    try {
      const send = (url: string) =>
        rawRequest(url, `/v1?api_key[]=${OTHER}&q=1`, [
          `X-Api-Key: ${OTHER}`,
          `Authorization: Bearer ${JWT}`,
        ]);
      const app = await send(echoed.url);
      expect(app.status).toBe(200);
      const echo = JSON.parse(app.body) as Echo;
      expect(echo.auth).toMatchObject({ method: 'jwt' });
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.headers['x-api-key']).toBe(OTHER);

      const res = await send(proxied.url);
      expect(res.status).toBe(200);
      const seen = upstream.last();
      expect(seen.url).toBe('/v1?q=1');
      expect(seen.headers['x-api-key']).toBeUndefined();
      expect(seen.headers.authorization).toBe('Bearer sk-upstream-123');
      expect(JSON.stringify(seen)).not.toContain(OTHER);
      expect(JSON.stringify(seen)).not.toContain(JWT);
    } finally {
      await proxied.close();
      await echoed.close();
      await any.close();
      await backend.close();
      await upstream.close();
    }
  });
});

// The digests below prove the fixtures are what the tests say (a typo would make every
// "not the key" case pass for the wrong reason).
it('fixtures: the padded keys differ from the key only by the padding', () => {
  expect(sha256(KEY)).not.toBe(sha256(`${KEY} `));
  expect(decodeURIComponent(PADDED_VALUES[0]!)).toBe(`${KEY} `);
});
