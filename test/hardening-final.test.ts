import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { replaceByRename, type TempDir, tempDir } from './support/files.js';
import { type Echo, frameworks } from './support/frameworks.js';
import { mountAt } from './support/mount.js';
import { rawGet } from './support/raw-request.js';
import { startRecordingUpstream } from './support/recording-upstream.js';
import { eventually, type RecordingLogger, recorder } from './support/wait.js';

// The last pass over the merged hardening (issue 11): the pieces together.

const all = await frameworks();

const sha = (password: string) => `{SHA}${createHash('sha1').update(password).digest('base64')}`;
const KEY = 'ak_final_5f0c1e9a7b3d4c2e8f61a0b9';

/** Every character that could forge, hide or recolour a log line. */
const FORGERIES = ['\r\n[portcullis] forged', '\n[portcullis] forged', '\r', '\u2028', '\u0085', '\u001b[2J'];
const UNSAFE = /[^\x20-\x7e]/;

describe.each(all)('a reloaded file never puts raw text in a log line on $name', (framework) => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir('portcullis-final-');
  });
  afterAll(async () => {
    await dir.remove();
  });
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  let files = 0;
  const refused = (logger: RecordingLogger) =>
    eventually(() => logger.messages.some((m) => m.includes('keeping the previous version')));
  const expectSafe = (logger: RecordingLogger) => {
    expect(logger.messages.length).toBeGreaterThan(0);
    for (const message of logger.messages) {
      expect(message).not.toMatch(UNSAFE);
      expect(message).not.toContain(KEY);
    }
  };

  it.each(FORGERIES)('a keys file naming a key twice (name with %j)', async (forgery) => {
    const path = dir.file(`keys-${++files}.json`);
    await writeFile(path, JSON.stringify([{ name: 'alice', key: KEY }]));
    const logger = recorder();
    const made = framework.lib.apiKeyAuth({ keys: { file: path }, logger });
    cleanups.push(() => made.close());
    const name = `evil${forgery}`;
    await replaceByRename(
      path,
      JSON.stringify([
        { name, key: KEY },
        { name, key: `${KEY}-other` },
      ]),
    );
    expect(await refused(logger)).toBe(true);
    expectSafe(logger);
  });

  it.each([...FORGERIES, '\u009b2J', '\u2029'])(
    'a keys file record with an unknown option named with %j',
    async (forgery) => {
      const path = dir.file(`keys-${++files}.json`);
      await writeFile(path, JSON.stringify([{ name: 'alice', key: KEY }]));
      const logger = recorder();
      const made = framework.lib.apiKeyAuth({ keys: { file: path }, logger });
      cleanups.push(() => made.close());
      await replaceByRename(path, JSON.stringify([{ name: 'alice', key: KEY, [`scope${forgery}`]: ['*'] }]));
      expect(await refused(logger)).toBe(true);
      expectSafe(logger);
    },
  );

  it.each(FORGERIES)('an htpasswd file with a user name holding %j', async (forgery) => {
    const path = dir.file(`users-${++files}.htpasswd`);
    await writeFile(path, `alice:${sha('alice-pw')}\n`);
    const logger = recorder();
    const made = framework.lib.basicAuth({ htpasswd: { file: path }, logger });
    cleanups.push(() => made.close());
    // A plaintext "hash" is refused, and the message names the user.
    await replaceByRename(path, `alice:${sha('alice-pw')}\nev${forgery}il:plain-${KEY}\n`);
    expect(await refused(logger)).toBe(true);
    expectSafe(logger);
  });
});

describe.each(all)('a rule after a query credential was stripped, mounted, on $name', (framework) => {
  const RULES = [
    'request.path == "/api/echo"',
    'request.url == "/api/echo?x=1"',
    '!("api_key" in request.query) && request.query.x == "1"',
    'size(request.query) == 1',
  ];
  it.each(RULES)('%s holds for /api/echo?x=1&api_key=KEY', async (rule) => {
    const { lib } = framework;
    const keys = lib.apiKeyAuth({
      keys: [{ name: 'svc', key: KEY, scopes: ['read'] }],
      location: { queryParameter: { name: 'api_key' } },
      logger: recorder(),
    });
    const server = await framework.serve([
      await mountAt(framework, '/api', keys),
      await mountAt(framework, '/api', lib.authorize({ rules: [rule] })),
    ]);
    try {
      for (const target of [`/api/echo?x=1&api_key=${KEY}`, `/api/echo?api_key=${KEY}&x=1`]) {
        const res = await request(server.url).get(target);
        expect(res.status).toBe(200);
        expect(res.text).not.toContain(KEY);
        expect((res.body as Echo).url).toBe('/api/echo?x=1');
      }
      // The rule reads the request as the app gets it: nothing but the credential was taken.
      expect((await request(server.url).get(`/api/echo?x=2&api_key=${KEY}`)).status).toBe(
        rule.includes('x') ? 403 : 200,
      );
    } finally {
      await server.close();
      await keys.close();
    }
  });
});

describe.each(all)(
  'a Basic password over the cap, let through, never reaches the upstream on $name',
  (framework) => {
    const PASSWORD = `pw-${'s'.repeat(40)}-secret`;
    const HTPASSWD = `alice:${sha(PASSWORD)}\n`;
    const BACKEND = 'sk-backend-final-0123456789';
    const cgi = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    const basic = (password: string) => `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`;
    const cases: { label: string; header: string; location?: 'proxy' }[] = [
      { label: 'Authorization', header: 'Authorization' },
      { label: 'Proxy-Authorization', header: 'Proxy-Authorization', location: 'proxy' },
      { label: 'Proxy_Authorization spelling', header: 'Proxy_Authorization', location: 'proxy' },
      { label: 'authorization spelt AUTHORIZATION', header: 'AUTHORIZATION' },
    ];
    for (const mode of ['permissive', 'optional'] as const) {
      it.each(cases)(`anyAuth ${mode}, $label, then backendAuth`, async ({ header, location }) => {
        const { lib } = framework;
        const upstream = await startRecordingUpstream();
        const basicMw = lib.basicAuth({
          htpasswd: HTPASSWD,
          maxPasswordBytes: 16,
          logger: recorder(),
          ...(location === 'proxy'
            ? { location: { header: { name: 'proxy-authorization', prefix: 'Basic ' } } }
            : {}),
        });
        const keyMw = lib.apiKeyAuth({
          keys: [{ name: 'svc', key: KEY }],
          location: { header: { name: 'x-api-key' } },
          logger: recorder(),
        });
        const gateway = await framework.serve(
          [lib.anyAuth(basicMw, keyMw, { mode }), lib.backendAuth({ key: BACKEND })],
          { forwardTo: upstream.url },
        );
        try {
          for (const password of [PASSWORD, 'short-wrong']) {
            // Beside a valid API key (it wins), and alone (permissive lets it through).
            const both = await rawGet(`${gateway.url}/v1/x`, { [header]: basic(password), 'X-Api-Key': KEY });
            expect(both.status).toBe(200);
            const alone = await rawGet(`${gateway.url}/v1/x`, { [header]: basic(password) });
            expect(alone.status).toBe(mode === 'permissive' ? 200 : location === 'proxy' ? 407 : 401);
            for (const res of [both, alone]) expect(res.body).not.toContain(PASSWORD);
          }
          expect(upstream.received.length).toBeGreaterThan(0);
          for (const received of upstream.received) {
            const raw = received.rawHeaders;
            for (let i = 0; i + 1 < raw.length; i += 2) {
              expect(raw[i + 1]).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
              if (cgi(raw[i]!) === 'PROXY_AUTHORIZATION') throw new Error(`upstream got ${raw[i]}`);
            }
          }
        } finally {
          await gateway.close();
          await upstream.close();
          await basicMw.close();
          await keyMw.close();
        }
      });
    }
  },
);

describe.each(all)("a URL's password never reaches the log, whatever it holds, on $name", (framework) => {
  const PASSWORD = 'Zq9-SECRETPASS';
  // What a provider's reason may quote: a DSN whose password holds "@" (WHATWG URL and libpq
  // read up to the LAST "@" of the authority), or long enough that the 200-character cut lands
  // inside the password.
  const REASONS: [string, string][] = [
    ['"@" in the password', `db down: postgres://admin:p@${PASSWORD}@db.internal:5432/app`],
    ['two "@" in the password', `db down: https://u:@@${PASSWORD}@@h/x`],
    ['the cut inside the password', `${'x'.repeat(180)} https://admin:${PASSWORD}${PASSWORD}@db/x`],
    ['the cut right after "://user:"', `${'y'.repeat(190)} https://admin:${PASSWORD}@db/x`],
    ['a plain DSN', `redis://:${PASSWORD}@cache:6379`],
    ['a space in the password', `db down: https://admin:my ${PASSWORD}@db/x`],
    ['a TAB in the password', `db down: https://admin:${PASSWORD.slice(0, 3)}\t${PASSWORD.slice(3)}@db/x`],
  ];
  it.each(REASONS)('customAuth denial reason with %s', async (_label, reason) => {
    const logger = { lines: [] as string[], warn: (m: string) => void logger.lines.push(m) };
    const made = framework.lib.customAuth(
      { authenticate: () => framework.lib.AuthResult.denied(reason) },
      { logger },
    );
    const server = await framework.serve([made]);
    try {
      const res = await request(server.url).get('/').set('Authorization', 'Bearer sess-123456');
      expect(res.status).toBe(401);
      expect(logger.lines).toHaveLength(1);
      const line = logger.lines[0]!;
      for (let n = 4; n <= PASSWORD.length; n++) expect(line).not.toContain(PASSWORD.slice(0, n));
      expect(line).not.toContain(PASSWORD.slice(-6));
    } finally {
      await server.close();
      await made.close();
    }
  });
});

/** A GET whose request target is the absolute URL (`GET http://host/path HTTP/1.1`). */
function absoluteGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const target = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: target.hostname, port: target.port, path: `${base}${path}`, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.each(all)('a sub-app mounted at /api strips and rules as the app does, on $name', (framework) => {
  /** Express: a whole sub-app (its own query parser) under app.use('/api'); Koa: mounted. */
  async function mounted(middlewares: unknown[]): Promise<unknown[]> {
    if (!framework.name.startsWith('express')) {
      return Promise.all(middlewares.map((mw) => mountAt(framework, '/api', mw)));
    }
    const express = (await import('express')).default;
    const sub = express();
    sub.set('query parser', 'extended');
    for (const mw of middlewares) sub.use(mw as import('express').RequestHandler);
    const router = express.Router();
    router.use('/api', sub);
    return [router];
  }
  it.each([
    ['request.query.x == "1" && !("api_key" in request.query)', 'x=1'],
    ['request.url == "/api/echo?x=1"', 'x=1'],
    ['request.path == "/api/echo"', 'x=1'],
  ])('%s', async (rule, rest) => {
    const { lib } = framework;
    const keys = lib.apiKeyAuth({
      keys: [{ name: 'svc', key: KEY }],
      location: { queryParameter: { name: 'api_key' } },
      logger: recorder(),
    });
    const server = await framework.serve(await mounted([keys, lib.authorize({ rules: [rule] })]), {
      queryParser: 'simple',
    });
    try {
      const res = await request(server.url).get(`/api/echo?${rest}&api_key=${KEY}`);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(KEY);
      const echo = res.body as Echo;
      expect(echo.url).toBe('/api/echo?x=1');
      expect(echo.query).toEqual({ x: '1' });
      // The same in absolute form (RFC 9112 3.2.2), as a proxy client sends it.
      const absolute = await absoluteGet(server.url, `/api/echo?${rest}&api_key=${KEY}`);
      expect(absolute.status).toBe(200);
      expect(absolute.body).not.toContain(KEY);
      expect((JSON.parse(absolute.body) as Echo).query).toEqual({ x: '1' });
      // Spellings a parser folds into the credential's name: a copy each, refused.
      for (const spelling of ['api_key%5B%5D', 'API_KEY', 'api.key']) {
        const twice = await request(server.url).get(`/api/echo?x=1&api_key=${KEY}&${spelling}=${KEY}`);
        expect(twice.status).toBe(400);
        expect(twice.text).not.toContain(KEY);
      }
    } finally {
      await server.close();
      await keys.close();
    }
  });
});
