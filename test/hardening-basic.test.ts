import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import request from 'supertest';
import unixCrypt from 'unix-crypt-td-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BasicAuthOptions } from '../src/index.js';
import { replaceByRename, type TempDir, tempDir } from './support/files.js';
import type { Echo, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { eventually, recorder } from './support/wait.js';

// Issue 11, "CPU per request": what one Basic credential can make basicAuth compute. Long
// passwords, user names and base64 are refused before anything is decoded or hashed; the
// costly hash kinds run in worker threads with a bounded queue; SHA-crypt rounds are bounded
// at load. Every hash kind is checked at and over its cap against real htpasswd files. Only
// answers are asserted here, never times (bench/run.ts measures the event-loop delay).

const all = await frameworks();

/** Entries made by real tools for long passwords (test/fixtures/README.md). */
const FIXTURE = readFileSync(new URL('./fixtures/long-passwords.htpasswd', import.meta.url), 'utf8');
const PHRASE = 'correct horse battery staple, ';
/** `PHRASE` repeated and cut to `n` characters (ASCII: `n` bytes). */
const long = (n: number) => PHRASE.repeat(Math.ceil(n / PHRASE.length)).slice(0, n);
/** 511 UTF-8 bytes in 256 characters. */
const UTF8_511 = `${'ü'.repeat(255)}x`;
/** About the size of the issue's example: eight of these stalled the event loop for 1-2 s. */
const HUGE = 11 * 1024;

const sha = (password: string) => `{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

// bcrypt reads 72 bytes: a hash of long(1024) is a hash of its first 72. Made at test time, at
// cost 8 so that the flood below keeps the hashing thread busy for a while.
const bcryptLong = bcrypt.hashSync(long(1024), 8);
const BCRYPT_2B = bcryptLong;
const BCRYPT_2A = bcryptLong.replace(/^\$2b\$/, '$2a$');
const BCRYPT_2Y = bcryptLong.replace(/^\$2b\$/, '$2y$');
const LONG_USER = 'u'.repeat(255);
const WIDE_USER = `${'é'.repeat(127)}x`; // 255 bytes

/** Every entry of the table, in one htpasswd file. */
const HTPASSWD = [
  FIXTURE.trim(),
  `sha1-1024:${sha(long(1024))}`,
  `bcrypt-2a-1024:${BCRYPT_2A}`,
  `bcrypt-2b-1024:${BCRYPT_2B}`,
  `bcrypt-2y-1024:${BCRYPT_2Y}`,
  `${LONG_USER}:${sha('long-user-pw')}`,
  `${WIDE_USER}:${sha('wide-user-pw')}`,
  `max:${sha(long(1024))}`,
  '',
].join('\n');

type Cap = 256 | 511 | 1024;

interface Row {
  kind: string;
  user: string;
  /** The correct password, exactly `cap` bytes long. */
  password: string;
  cap: Cap;
  /** Whether the password one byte over the cap would match if it were hashed (bcrypt, DES). */
  overWouldMatch: boolean;
}

const ROWS: Row[] = [
  { kind: '{SHA}', user: 'sha1-1024', password: long(1024), cap: 1024, overWouldMatch: false },
  { kind: 'apr1 (apache-md5)', user: 'apr1-1024', password: long(1024), cap: 1024, overWouldMatch: false },
  { kind: 'apr1 (openssl)', user: 'apr1-256', password: long(256), cap: 256, overWouldMatch: false },
  {
    kind: 'sha256-crypt (crypt(3))',
    user: 'sha256-511',
    password: long(511),
    cap: 511,
    overWouldMatch: false,
  },
  {
    kind: 'sha512-crypt (crypt(3))',
    user: 'sha512-511',
    password: long(511),
    cap: 511,
    overWouldMatch: false,
  },
  {
    kind: 'sha512-crypt rounds=2000, UTF-8',
    user: 'sha512-utf8-511',
    password: UTF8_511,
    cap: 511,
    overWouldMatch: false,
  },
  {
    kind: 'sha256-crypt (openssl)',
    user: 'sha256-256',
    password: long(256),
    cap: 256,
    overWouldMatch: false,
  },
  {
    kind: 'sha512-crypt (openssl)',
    user: 'sha512-256',
    password: long(256),
    cap: 256,
    overWouldMatch: false,
  },
  { kind: 'bcrypt $2a$', user: 'bcrypt-2a-1024', password: long(1024), cap: 1024, overWouldMatch: true },
  { kind: 'bcrypt $2b$', user: 'bcrypt-2b-1024', password: long(1024), cap: 1024, overWouldMatch: true },
  { kind: 'bcrypt $2y$', user: 'bcrypt-2y-1024', password: long(1024), cap: 1024, overWouldMatch: true },
  { kind: 'DES crypt', user: 'des-1024', password: long(1024), cap: 1024, overWouldMatch: true },
];

/** The refusal of every over-long credential: 401, challenge, invalid_credentials, no echo. */
function expectInvalid(res: request.Response, sent: string) {
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe('Basic realm="Restricted", charset="UTF-8"');
  expect(res.body).toEqual({ error: 'invalid_credentials', error_description: expect.any(String) });
  expect(res.text).not.toContain(sent.slice(0, 64));
}

describe.each(all)('basicAuth hardening on $name', (framework) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  let dir: TempDir;
  let htpasswdFile: string;
  const servers = new Map<Cap, TestServer>();

  const middleware = (options: Partial<BasicAuthOptions>) => {
    const made = framework.lib.basicAuth({
      htpasswd: { file: htpasswdFile },
      allowWeakHashes: true,
      logger: recorder(),
      ...options,
    });
    cleanups.push(() => made.close());
    return made;
  };
  const startupError = (options: Partial<BasicAuthOptions>): Error => {
    try {
      middleware(options);
    } catch (error) {
      return error as Error;
    }
    throw new Error('basicAuth started');
  };
  const get = (url: string, authorization?: string, path = '/') => {
    const req = request(url).get(path);
    if (authorization !== undefined) req.set('Authorization', authorization);
    return req;
  };

  beforeAll(async () => {
    dir = await tempDir('portcullis-hardening-basic-');
    htpasswdFile = dir.file('htpasswd');
    await writeFile(htpasswdFile, HTPASSWD);
    for (const cap of [256, 511, 1024] as const) {
      const made = framework.lib.basicAuth({
        htpasswd: { file: htpasswdFile },
        allowWeakHashes: true,
        logger: recorder(),
        publicPaths: ['/health'],
        // 1024 is the default: that server is made without the option.
        ...(cap === 1024 ? {} : { maxPasswordBytes: cap }),
      });
      const server = await framework.serve([made]);
      servers.set(cap, {
        ...server,
        close: async () => {
          await server.close();
          await made.close();
        },
      });
    }
  });
  afterAll(async () => {
    for (const server of servers.values()) await server.close();
    await dir.remove();
  });
  const urlFor = (cap: Cap) => servers.get(cap)!.url;

  describe('long passwords, each hash kind at and over the cap', () => {
    it.each(ROWS)('$kind: the correct $cap-byte password signs in, twice (remembered)', async (row) => {
      expect(bytes(row.password)).toBe(row.cap);
      for (let i = 0; i < 2; i++) {
        const res = await get(urlFor(row.cap), basic(row.user, row.password));
        expect(res.status).toBe(200);
        expect((res.body as Echo).auth?.subject).toBe(row.user);
      }
    });

    it.each(ROWS)('$kind: a wrong password of the cap length is refused', async (row) => {
      const wrong = `X${row.password.slice(1)}`;
      expectInvalid(await get(urlFor(row.cap), basic(row.user, wrong)), wrong);
    });

    it.each(ROWS)(
      '$kind: one byte over the cap is refused unhashed (even where it would match)',
      async (row) => {
        const over = `${row.password}x`;
        expect(bytes(over)).toBe(row.cap + 1);
        expectInvalid(await get(urlFor(row.cap), basic(row.user, over)), over);
        if (row.overWouldMatch) expect(wouldMatch(row.user, over)).toBe(true);
      },
    );

    it.each(ROWS)(
      '$kind: 11 KB passwords are refused, for the user and for unknown users alike',
      async (row) => {
        const huge = row.password.repeat(Math.ceil(HUGE / bytes(row.password))).slice(0, HUGE);
        const known = await get(urlFor(row.cap), basic(row.user, huge));
        expectInvalid(known, huge);
        const unknown = await get(urlFor(row.cap), basic(`${row.user}-nobody`, huge));
        expectInvalid(unknown, huge);
        expect(unknown.body).toEqual(known.body);
      },
    );

    it('bcrypt and DES passwords over the default cap would match their entries, yet are refused', async () => {
      // The control for the rows above: bcrypt reads 72 bytes and DES 8, so without the cap
      // these long passwords would sign in.
      for (const user of ['bcrypt-2a-1024', 'bcrypt-2b-1024', 'bcrypt-2y-1024', 'des-1024']) {
        expect(wouldMatch(user, long(1025))).toBe(true);
        expect(wouldMatch(user, long(4096))).toBe(true);
        expectInvalid(await get(urlFor(1024), basic(user, long(1025))), long(1025));
        expectInvalid(await get(urlFor(1024), basic(user, long(4096))), long(4096));
      }
    });

    it('caps bytes, not characters: 256 characters of ü (512 bytes) are over a 511-byte cap', async () => {
      const wide = 'ü'.repeat(256);
      expect(wide.length).toBe(256);
      expectInvalid(await get(urlFor(511), basic('sha512-utf8-511', wide)), wide);
      // 511 bytes of the same characters are fine (the entry's own password).
      expect((await get(urlFor(511), basic('sha512-utf8-511', UTF8_511))).status).toBe(200);
    });

    it('every long password of the table signs in under the default cap (1024 bytes)', async () => {
      for (const row of ROWS) {
        const res = await get(urlFor(1024), basic(row.user, row.password));
        expect(res.status).toBe(200);
        expect((res.body as Echo).auth?.subject).toBe(row.user);
      }
    });

    it('refuses a maxPasswordBytes that is not an integer from 1 to 4096, naming the option', () => {
      for (const value of [0, -1, 1.5, 4097, Number.NaN, '1024' as unknown as number]) {
        const error = startupError({ maxPasswordBytes: value });
        expect(error).toBeInstanceOf(framework.lib.ConfigError);
        expect(error.message).toMatch(/`maxPasswordBytes`/);
      }
      middleware({ maxPasswordBytes: 4096 });
      middleware({ maxPasswordBytes: 1 });
    });

    it('maxPasswordBytes: 4096 admits a 4096-byte password and refuses 4097 bytes', async () => {
      await writeFile(dir.file('wide.htpasswd'), `wide:${sha(long(4096))}\nbee:${BCRYPT_2B}\n`);
      const server = await framework.serve([
        middleware({ htpasswd: { file: dir.file('wide.htpasswd') }, maxPasswordBytes: 4096 }),
      ]);
      cleanups.push(() => server.close());
      expect((await get(server.url, basic('wide', long(4096)))).status).toBe(200);
      expectInvalid(await get(server.url, basic('wide', long(4097))), long(4097));
      expect((await get(server.url, basic('bee', long(4096)))).status).toBe(200);
      expectInvalid(await get(server.url, basic('bee', long(4097))), long(4097));
    });
  });

  describe('long user names', () => {
    it('a 255-byte user name signs in (ASCII and UTF-8)', async () => {
      expect(bytes(LONG_USER)).toBe(255);
      expect(bytes(WIDE_USER)).toBe(255);
      const ascii = await get(urlFor(1024), basic(LONG_USER, 'long-user-pw'));
      expect(ascii.status).toBe(200);
      expect((ascii.body as Echo).auth?.subject).toBe(LONG_USER);
      const wide = await get(urlFor(1024), basic(WIDE_USER, 'wide-user-pw'));
      expect(wide.status).toBe(200);
      expect((wide.body as Echo).auth?.subject).toBe(WIDE_USER);
    });

    it.each([
      { case: '256 ASCII bytes', user: 'u'.repeat(256) },
      { case: '256 bytes in 128 characters', user: 'é'.repeat(128) },
      { case: '8 KB', user: 'u'.repeat(8192) },
      { case: 'a known 255-byte user with one more byte', user: `${LONG_USER}u` },
    ])('refuses a user name of $case', async ({ user }) => {
      expectInvalid(await get(urlFor(1024), basic(user, 'long-user-pw')), user);
      expectInvalid(await get(urlFor(1024), basic(user, long(1024))), user);
    });

    it('refuses at load an htpasswd line whose user is over 255 bytes, naming the line but not the user', async () => {
      for (const user of ['v'.repeat(256), 'é'.repeat(128)]) {
        const error = startupError({ htpasswd: `ok:${sha('ok')}\n${user}:${sha('pw')}\n` });
        expect(error).toBeInstanceOf(framework.lib.ConfigError);
        expect(error.message).toMatch(/\bline 2\b/);
        expect(error.message).toMatch(/255 bytes/);
        expect(error.message).not.toContain(user.slice(0, 100));
      }
    });

    it('the longest credential the caps admit (255-byte user, 1024-byte password) signs in', async () => {
      expect((await get(urlFor(1024), basic('max', long(1024)))).status).toBe(200);
      const longest = `${LONG_USER}:${long(1024)}`;
      expect(bytes(longest)).toBe(1280);
      // A 255-byte user with a 1024-byte password: the base64 is at its cap (1708 characters).
      await writeFile(dir.file('longest.htpasswd'), `${LONG_USER}:${sha(long(1024))}\n`);
      const server = await framework.serve([
        middleware({ htpasswd: { file: dir.file('longest.htpasswd') } }),
      ]);
      cleanups.push(() => server.close());
      const at = await get(server.url, basic(LONG_USER, long(1024)));
      expect(at.status).toBe(200);
      expect((at.body as Echo).auth?.subject).toBe(LONG_USER);
      expectInvalid(await get(server.url, basic(LONG_USER, long(1025))), long(1025));
    });
  });

  describe('huge base64', () => {
    it.each([
      { case: '60,000 base64 characters of zeros', encoded: () => 'A'.repeat(60_000) },
      { case: '40 KB of random base64', encoded: () => Buffer.alloc(30_000, 0x41).toString('base64') },
      {
        case: 'user:11 KB, canonical',
        encoded: () => Buffer.from(`sha1-1024:${long(HUGE)}`).toString('base64'),
      },
      {
        case: 'one block over the cap with a short user (padding after the password)',
        encoded: () => Buffer.from(`max:${long(1024)}${' '.repeat(256)}`).toString('base64'),
      },
      { case: 'non-canonical and huge', encoded: () => `${'A'.repeat(20_001)}=` },
      { case: 'not base64 at all, huge', encoded: () => '*'.repeat(20_000) },
    ])('refuses $case', async ({ encoded }) => {
      const value = encoded();
      const res = await get(urlFor(1024), `Basic ${value}`);
      expectInvalid(res, value);
    });

    it('caps Proxy-Authorization the same way: 407 for an 11 KB password, 200 at the cap', async () => {
      const server = await framework.serve([
        middleware({ location: { header: { name: 'proxy-authorization', prefix: 'Basic ' } } }),
      ]);
      cleanups.push(() => server.close());
      const huge = basic('sha1-1024', long(HUGE));
      const refused = await request(server.url).get('/').set('Proxy-Authorization', huge);
      expect(refused.status).toBe(407);
      expect(refused.headers['proxy-authenticate']).toBe('Basic realm="Restricted", charset="UTF-8"');
      expect(refused.body.error).toBe('invalid_credentials');
      const at = await request(server.url)
        .get('/')
        .set('Proxy-Authorization', basic('sha1-1024', long(1024)));
      expect(at.status).toBe(200);
    });

    it('optional mode answers 401 to it, permissive passes the request on without identity', async () => {
      const huge = basic('sha1-1024', long(HUGE));
      const optional = await framework.serve([middleware({ mode: 'optional' })]);
      cleanups.push(() => optional.close());
      expectInvalid(await get(optional.url, huge), huge);
      const permissive = await framework.serve([middleware({ mode: 'permissive' })]);
      cleanups.push(() => permissive.close());
      const passed = await get(permissive.url, huge);
      expect(passed.status).toBe(200);
      expect((passed.body as Echo).auth).toBeNull();
    });
  });

  describe('SHA-crypt rounds', () => {
    // A well-formed $6$ digest with a rounds field put in front: loaded, never checked.
    const digest = /^sha512-511:\$6\$longpw6salt\$(.+)$/m.exec(FIXTURE)![1]!;
    const withRounds = (variant: '5' | '6', rounds: string) =>
      variant === '6'
        ? `$6$rounds=${rounds}$longpw6salt$${digest}`
        : `$5$rounds=${rounds}$longpw5salt$${/^sha256-511:\$5\$longpw5salt\$(.+)$/m.exec(FIXTURE)![1]!}`;

    it.each([
      { rounds: '999999999', variant: '6' as const },
      { rounds: '999999999', variant: '5' as const },
      { rounds: '10000000', variant: '6' as const },
      { rounds: '1000001', variant: '6' as const },
      { rounds: '0001000001', variant: '6' as const, unknownFormat: true },
    ])(
      'refuses rounds=$rounds (variant $variant) at load by default',
      ({ rounds, variant, unknownFormat }) => {
        const error = startupError({ htpasswd: `ok:${sha('ok')}\nslow:${withRounds(variant, rounds)}\n` });
        expect(error).toBeInstanceOf(framework.lib.ConfigError);
        expect(error.message).toMatch(/`htpasswd`/);
        expect(error.message).toMatch(/\bline 2\b/);
        if (!unknownFormat) expect(error.message).toMatch(/maxShaCryptRounds/);
        expect(error.message).not.toContain(digest);
      },
    );

    it('loads rounds=1000000 (the default bound) and follows maxShaCryptRounds both ways', async () => {
      middleware({ htpasswd: `slow:${withRounds('6', '1000000')}\n` });
      // The table's rounds=2000 entry: refused under 1999, loaded (and checked) under 2000.
      const tight = startupError({ maxShaCryptRounds: 1999 });
      expect(tight).toBeInstanceOf(framework.lib.ConfigError);
      expect(tight.message).toMatch(/maxShaCryptRounds 1999/);
      // An entry that names no rounds costs 5000: refused under a bound below that.
      const unnamed = startupError({ htpasswd: `plain:$6$longpw6salt$${digest}\n`, maxShaCryptRounds: 4999 });
      expect(unnamed.message).toMatch(/\bline 1\b/);
      middleware({ htpasswd: `plain:$6$longpw6salt$${digest}\n`, maxShaCryptRounds: 5000 });
      const server = await framework.serve([
        middleware({
          htpasswd: `utf8:$6$rounds=2000$utf8salt$${/^sha512-utf8-511:\$6\$rounds=2000\$utf8salt\$(.+)$/m.exec(FIXTURE)![1]!}\n`,
          maxShaCryptRounds: 2000,
          maxPasswordBytes: 511,
        }),
      ]);
      cleanups.push(() => server.close());
      expect((await get(server.url, basic('utf8', UTF8_511))).status).toBe(200);
    });

    it('refuses a maxShaCryptRounds outside 1000..10000000, naming the option', () => {
      for (const value of [999, 10_000_001, 1500.5, Number.POSITIVE_INFINITY]) {
        const error = startupError({ maxShaCryptRounds: value });
        expect(error).toBeInstanceOf(framework.lib.ConfigError);
        expect(error.message).toMatch(/`maxShaCryptRounds`/);
      }
      // 10,000,000 admits the 10-million-round entry refused by default.
      middleware({ htpasswd: `slow:${withRounds('6', '10000000')}\n`, maxShaCryptRounds: 10_000_000 });
    });

    it('keeps the last good users when a reload brings rounds=999999999', async () => {
      const path = dir.file('rounds-reload.htpasswd');
      await writeFile(path, `alice:${sha('alice-pw')}\n`);
      const logger = recorder();
      const server = await framework.serve([middleware({ htpasswd: { file: path }, logger })]);
      cleanups.push(() => server.close());
      expect((await get(server.url, basic('alice', 'alice-pw'))).status).toBe(200);
      await replaceByRename(path, `alice:${sha('alice-pw')}\nslow:${withRounds('6', '999999999')}\n`);
      expect(await eventually(() => logger.messages.length > 0)).toBe(true);
      expect(logger.messages.join('\n')).toMatch(/\bline 2\b/);
      expect(logger.messages.join('\n')).not.toContain(digest);
      expect((await get(server.url, basic('alice', 'alice-pw'))).status).toBe(200);
      expectInvalid(await get(server.url, basic('slow', 'anything')), 'anything');
    });
  });

  describe('a flood of long and wrong passwords', () => {
    // Enough hashed checks that the hashing thread is still busy when /health is asked: apr1
    // is the cheapest (a few ms at 1 KB), so it gets more.
    const FLOOD = [
      { kind: 'sha512-crypt', user: 'sha512-511', cap: 511 as Cap, password: long(511), hashed: 40 },
      { kind: 'sha256-crypt', user: 'sha256-511', cap: 511 as Cap, password: long(511), hashed: 40 },
      { kind: 'apr1', user: 'apr1-1024', cap: 1024 as Cap, password: long(1024), hashed: 100 },
      { kind: 'bcrypt', user: 'bcrypt-2y-1024', cap: 1024 as Cap, password: long(1024), hashed: 40 },
    ];

    it.each(FLOOD)(
      '$kind: $hashed wrong passwords at the cap and 8 of 11 KB all get 401 while /health answers',
      async ({ user, cap, password, hashed }) => {
        const server = servers.get(cap)!;
        let arrived = 0;
        const counter = (req: { url?: string }) => {
          if (req.url?.startsWith('/flood')) arrived++;
        };
        server.server.on('request', counter);
        cleanups.push(() => server.server.off('request', counter));
        const order: string[] = [];
        const sent = [
          // At the cap: each one is hashed. Half for the user, half for unknown users.
          ...Array.from({ length: hashed }, (_, i) => ({
            header: basic(i % 2 ? user : `nobody-${i}`, `${String(i).padStart(4, '#')}${password.slice(4)}`),
            long: false,
          })),
          // Far over the cap, as in the issue: refused before hashing.
          ...Array.from({ length: 8 }, (_, i) => ({
            header: basic(i % 2 ? user : `nobody-${i}`, `${i}${long(HUGE)}`),
            long: true,
          })),
        ];
        const flood = sent.map(({ header, long: isLong }, i) =>
          get(server.url, header, `/flood/${i}`).then((res) => {
            if (!isLong) order.push('hashed');
            return res;
          }),
        );
        expect(await eventually(() => arrived === sent.length, { timeoutMs: 10_000, stepMs: 5 })).toBe(true);
        const health = await get(server.url, undefined, '/health');
        order.push('health');
        expect(health.status).toBe(200);
        expect((health.body as Echo).auth).toBeNull();
        const answers = await Promise.all(flood);
        for (const [i, res] of answers.entries()) expectInvalid(res, sent[i]!.header.slice(6));
        // The health check was answered while hashed checks were still queued.
        expect(order).toHaveLength(hashed + 1);
        expect(order.at(-1)).toBe('hashed');
        // The user still signs in afterwards.
        expect((await get(server.url, basic(user, password))).status).toBe(200);
      },
    );
  });
});

/** Whether the bcrypt or DES entry of `user` would accept `password` if it were hashed. */
function wouldMatch(user: string, password: string): boolean {
  if (user.startsWith('bcrypt')) return bcrypt.compareSync(password, BCRYPT_2B);
  const entry = /^des-1024:(.+)$/m.exec(FIXTURE)![1]!;
  return unixCrypt(password, entry.slice(0, 2)) === entry;
}
