import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BasicAuthOptions } from '../src/index.js';
import { replaceByRename, type TempDir, tempDir } from './support/files.js';
import type { Echo, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { MODES_TABLE } from './support/modes-table.js';
import { eventually, recorder, sleep } from './support/wait.js';

// basicAuth (issue 3): htpasswd text and files (reload, CRLF, BOM, comments, duplicates), every
// hash format against vectors made by real tools, realm and challenges, modes, the decoding of
// credentials, timing of unknown users, proxy credentials, identity, responsiveness while
// bcrypt runs, and close(). One table, run on both adapters.

const all = await frameworks();

const FIXTURE = readFileSync(new URL('./fixtures/vectors.htpasswd', import.meta.url), 'utf8');

/** The users of test/fixtures/vectors.htpasswd and their passwords (test/fixtures/README.md). */
const VECTORS = [
  { user: 'bob', password: 'b0b-secret', format: '$2y$ (htpasswd -B)' },
  { user: 'carol', password: 'pa:ss:word', format: '$apr1$ (htpasswd -m)' },
  { user: 'dave', password: 'hunter2', format: '{SHA} (htpasswd -s)' },
  { user: 'erin', password: 'desword', format: 'DES crypt (htpasswd -d)' },
  { user: 'frank', password: 'frank-pw', format: '$5$ (openssl passwd -5)' },
  { user: 'grace', password: 'grace-pw', format: '$6$ (openssl passwd -6)' },
  { user: 'heidi', password: 'heidi-pw', format: '$6$rounds=10000$ (crypt)' },
  { user: 'ivan', password: 'ivan-pw', format: '$5$rounds=1000$ (crypt)' },
  { user: 'zoë', password: 'pässwörd', format: '$apr1$ with a UTF-8 user and password' },
] as const;

/** The Apache documentation's apr1 vector. */
const APACHE_APR1 = 'user:$apr1$TYiryv0/$8BvzLUO9IfGPGGsPnAgSu1';

/** `{SHA}` of a password: cheap entries for tests that are not about a hash format. */
const sha = (password: string) => `{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`;

/** The value of an Authorization header for `user:password` (UTF-8, canonical base64). */
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

// bcrypt hashes made at test time with bcryptjs (which writes $2b$).
let b2b: string; // cost 5, password "bee-pw"
let b2a: string; // the same hash spelt $2a$ (the two prefixes differ only for >255-byte passwords)
let cost6: string; // cost 6, password "six-pw"
let cost8: string; // cost 8, password "timing-pw"
let cost10: string; // cost 10, password "slow-pw"
let fakeCost15: string; // a well-formed cost-15 hash (never checked, only loaded)
let fakeCost14: string;

beforeAll(() => {
  b2b = bcrypt.hashSync('bee-pw', 5);
  b2a = b2b.replace(/^\$2b\$/, '$2a$');
  cost6 = bcrypt.hashSync('six-pw', 6);
  cost8 = bcrypt.hashSync('timing-pw', 8);
  cost10 = bcrypt.hashSync('slow-pw', 10);
  const cheap = bcrypt.hashSync('whatever', 4);
  fakeCost15 = cheap.replace(/^\$2b\$04\$/, '$2b$15$');
  fakeCost14 = cheap.replace(/^\$2b\$04\$/, '$2b$14$');
});

function get(url: string, authorization?: string, path = '/') {
  const req = request(url).get(path);
  if (authorization !== undefined) req.set('Authorization', authorization);
  return req;
}

/** Polls until `authorization` gets `status` (bounded); the last status seen. */
async function statusEventually(url: string, authorization: string, status: number): Promise<number> {
  let last = 0;
  await eventually(async () => {
    last = (await get(url, authorization)).status;
    return last === status;
  });
  return last;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

describe.each(all)('basicAuth on $name', (framework) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A middleware closed after the test; warnings go to a recorder unless one is given. */
  const middleware = (options: BasicAuthOptions) => {
    const made = framework.lib.basicAuth({ logger: recorder(), ...options });
    cleanups.push(() => made.close());
    return made;
  };
  /** An app running `middlewares` then the echo route, closed after the test. */
  const serve = async (middlewares: unknown[]): Promise<TestServer> => {
    const server = await framework.serve(middlewares);
    cleanups.push(() => server.close());
    return server;
  };
  /** An app behind one basicAuth made from `options`; its URL. */
  const app = async (options: BasicAuthOptions) => (await serve([middleware(options)])).url;

  /** The ConfigError `options` is refused with at start-up. */
  const startupError = (options: BasicAuthOptions): Error => {
    try {
      const made = framework.lib.basicAuth({ logger: recorder(), ...options });
      cleanups.push(() => made.close());
    } catch (error) {
      return error as Error;
    }
    throw new Error('basicAuth started');
  };

  describe('htpasswd text', () => {
    it('accepts CRLF line endings', async () => {
      const url = await app({
        htpasswd: [`alice:${sha('alice-pw')}`, `bob:${sha('bob-pw')}`, ''].join('\r\n'),
      });
      expect((await get(url, basic('alice', 'alice-pw'))).status).toBe(200);
      expect((await get(url, basic('bob', 'bob-pw'))).status).toBe(200);
      expect((await get(url, basic('bob', 'alice-pw'))).status).toBe(401);
    });

    it('ignores blank lines, whitespace-only lines and # comments (even ones that look like entries)', async () => {
      const logger = recorder();
      const url = await app({
        htpasswd: [
          '# users of the test',
          '',
          '   ',
          `alice:${sha('alice-pw')}`,
          '#mallory:plaintext-in-a-comment',
          `# eve:${sha('eve-pw')}`,
          '',
          `bob:${sha('bob-pw')}`,
        ].join('\n'),
        logger,
      });
      expect((await get(url, basic('alice', 'alice-pw'))).status).toBe(200);
      expect((await get(url, basic('bob', 'bob-pw'))).status).toBe(200);
      expect((await get(url, basic('eve', 'eve-pw'))).status).toBe(401);
      expect((await get(url, basic('#mallory', 'plaintext-in-a-comment'))).status).toBe(401);
      expect(logger.messages).toEqual([]);
    });

    it('ignores a UTF-8 byte order mark before the first entry', async () => {
      const url = await app({ htpasswd: `\uFEFFalice:${sha('alice-pw')}\r\nbob:${sha('bob-pw')}\r\n` });
      expect((await get(url, basic('alice', 'alice-pw'))).status).toBe(200);
      expect((await get(url, basic('bob', 'bob-pw'))).status).toBe(200);
    });

    it('keeps the first entry of a duplicate user and warns at start-up', async () => {
      const logger = recorder();
      const url = await app({
        htpasswd: [`dup:${sha('first-pw')}`, `other:${sha('other-pw')}`, `dup:${sha('second-pw')}`].join(
          '\n',
        ),
        logger,
      });
      expect(logger.messages).toHaveLength(1);
      expect(logger.messages[0]).toContain('"dup"');
      expect(logger.messages[0]).not.toContain('first-pw');
      expect(logger.messages[0]).not.toContain(sha('first-pw'));
      expect((await get(url, basic('dup', 'first-pw'))).status).toBe(200);
      expect((await get(url, basic('dup', 'second-pw'))).status).toBe(401);
      expect((await get(url, basic('other', 'other-pw'))).status).toBe(200);
    });

    it('refuses a plaintext entry at start-up, naming the line but not the password', () => {
      const error = startupError({
        htpasswd: ['# admins', `alice:${sha('alice-pw')}`, 'mallory:s3cr3t-plain', ''].join('\n'),
      });
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      expect(error.message).toMatch(/`htpasswd`/);
      expect(error.message).toMatch(/\bline 3\b/);
      expect(error.message).not.toContain('s3cr3t-plain');
    });

    it('refuses an unknown hash format and a line without a colon at start-up, naming the line', () => {
      const unknown = startupError({ htpasswd: `alice:${sha('a')}\nbob:$9$abc$defghijklmnop\n` });
      expect(unknown).toBeInstanceOf(framework.lib.ConfigError);
      expect(unknown.message).toMatch(/\bline 2\b/);
      expect(unknown.message).not.toContain('defghijklmnop');

      const truncated = startupError({
        htpasswd: `alice:${sha('a')}\r\n\r\nbob:${sha('b').slice(0, 10)}\r\n`,
      });
      expect(truncated).toBeInstanceOf(framework.lib.ConfigError);
      expect(truncated.message).toMatch(/\bline 3\b/);

      const noColon = startupError({ htpasswd: `alice:${sha('a')}\njust-a-word\n` });
      expect(noColon).toBeInstanceOf(framework.lib.ConfigError);
      expect(noColon.message).toMatch(/\bline 2\b/);
      expect(noColon.message).not.toContain('just-a-word');
    });
  });

  describe('hash formats', () => {
    let vectors: string;
    beforeAll(async () => {
      const server = await framework.serve([
        framework.lib.basicAuth({ htpasswd: FIXTURE, allowWeakHashes: true, logger: recorder() }),
      ]);
      vectors = server.url;
      return () => server.close();
    });

    it.each(VECTORS)(
      '$user: $format accepts its password and refuses a wrong one',
      async ({ user, password }) => {
        const ok = await get(vectors, basic(user, password));
        expect(ok.status).toBe(200);
        expect((ok.body as Echo).auth?.subject).toBe(user);
        expect((await get(vectors, basic(user, `${password}x`))).status).toBe(401);
        expect((await get(vectors, basic(user, password.slice(0, -1)))).status).toBe(401);
      },
    );

    it('refuses DES crypt unless allowWeakHashes is set, naming the line', async () => {
      const error = startupError({ htpasswd: FIXTURE });
      expect(error).toBeInstanceOf(framework.lib.ConfigError);
      const erinLine = FIXTURE.split('\n').findIndex((line) => line.startsWith('erin:')) + 1;
      expect(error.message).toMatch(new RegExp(`\\bline ${erinLine}\\b`));
      expect(error.message).toMatch(/allowWeakHashes/);
      expect(error.message).not.toContain('n5.RZjsT9YWTQ');

      // The same file without the DES entry loads without the option.
      const withoutDes = FIXTURE.split('\n')
        .filter((line) => !line.startsWith('erin:'))
        .join('\n');
      const url = await app({ htpasswd: withoutDes });
      expect((await get(url, basic('dave', 'hunter2'))).status).toBe(200);
      expect((await get(url, basic('erin', 'desword'))).status).toBe(401);
    });

    it('accepts $2b$ and $2a$ bcrypt made by bcryptjs', async () => {
      expect(b2b.startsWith('$2b$05$')).toBe(true);
      const url = await app({ htpasswd: `bee:${b2b}\nay:${b2a}\n` });
      expect((await get(url, basic('bee', 'bee-pw'))).status).toBe(200);
      expect((await get(url, basic('bee', 'bee-pX'))).status).toBe(401);
      expect((await get(url, basic('ay', 'bee-pw'))).status).toBe(200);
      expect((await get(url, basic('ay', 'bee-px'))).status).toBe(401);
    });

    it('accepts the Apache documentation apr1 vector (user / password)', async () => {
      const url = await app({ htpasswd: `${APACHE_APR1}\n` });
      const res = await get(url, basic('user', 'password'));
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth?.subject).toBe('user');
      expect((await get(url, basic('user', 'Password'))).status).toBe(401);
      expect((await get(url, basic('User', 'password'))).status).toBe(401);
    });

    it('refuses a bcrypt cost above maxBcryptCost at load (default 14)', async () => {
      const tooCostly = startupError({ htpasswd: `ok:${b2b}\nsix:${cost6}\n`, maxBcryptCost: 5 });
      expect(tooCostly).toBeInstanceOf(framework.lib.ConfigError);
      expect(tooCostly.message).toMatch(/\bline 2\b/);
      expect(tooCostly.message).toMatch(/maxBcryptCost/);

      const defaultCeiling = startupError({ htpasswd: `big:${fakeCost15}\n` });
      expect(defaultCeiling).toBeInstanceOf(framework.lib.ConfigError);
      expect(defaultCeiling.message).toMatch(/\bline 1\b/);

      // At the ceiling is fine (this entry is loaded, never checked: cost 14 takes seconds).
      middleware({ htpasswd: `big:${fakeCost14}\n` });
      const url = await app({ htpasswd: `ok:${b2b}\nsix:${cost6}\n`, maxBcryptCost: 6 });
      expect((await get(url, basic('six', 'six-pw'))).status).toBe(200);
    });
  });

  describe('htpasswd file', () => {
    let dir: TempDir;
    beforeAll(async () => {
      dir = await tempDir('portcullis-basic-');
    });
    afterAll(async () => {
      await dir.remove();
    });

    it('reads the file at start-up (CRLF, BOM, comments, duplicates warned)', async () => {
      const path = dir.file('start.htpasswd');
      await writeFile(
        path,
        `\uFEFFalice:${sha('alice-pw')}\r\n# comment\r\n\r\nalice:${sha('other-pw')}\r\n${APACHE_APR1}\r\n`,
      );
      const logger = recorder();
      const url = await app({ htpasswd: { file: path }, logger });
      expect(logger.messages).toHaveLength(1);
      expect(logger.messages[0]).toContain('"alice"');
      expect((await get(url, basic('alice', 'alice-pw'))).status).toBe(200);
      expect((await get(url, basic('alice', 'other-pw'))).status).toBe(401);
      expect((await get(url, basic('user', 'password'))).status).toBe(200);
    });

    it('refuses a missing file or a bad entry at start-up', async () => {
      const missing = startupError({ htpasswd: { file: dir.file('missing.htpasswd') } });
      expect(missing).toBeInstanceOf(framework.lib.ConfigError);
      expect(missing.message).toMatch(/`htpasswd\.file`/);

      const path = dir.file('plain.htpasswd');
      await writeFile(path, `alice:${sha('alice-pw')}\nmallory:s3cr3t-plain\n`);
      const plain = startupError({ htpasswd: { file: path } });
      expect(plain).toBeInstanceOf(framework.lib.ConfigError);
      expect(plain.message).toMatch(/\bline 2\b/);
      expect(plain.message).not.toContain('s3cr3t-plain');
    });

    it('follows rewrites in place and replacements by rename, keeping the last good users', async () => {
      const path = dir.file('reload.htpasswd');
      await writeFile(path, `alice:${sha('alice-pw')}\n`);
      const logger = recorder();
      const url = await app({ htpasswd: { file: path }, logger });
      expect((await get(url, basic('alice', 'alice-pw'))).status).toBe(200);
      expect((await get(url, basic('bob', 'bob-pw'))).status).toBe(401);

      // Rewritten in place: bob added, alice's password changed.
      await writeFile(path, `alice:${sha('alice-new')}\r\nbob:${sha('bob-pw')}\r\n`);
      expect(await statusEventually(url, basic('bob', 'bob-pw'), 200)).toBe(200);
      expect((await get(url, basic('alice', 'alice-pw'))).status).toBe(401);
      expect((await get(url, basic('alice', 'alice-new'))).status).toBe(200);

      // Replaced by rename (a new inode, as editors and Kubernetes do it): bob removed.
      await replaceByRename(path, `alice:${sha('alice-new')}\ncarol:${sha('carol-pw')}\n`);
      expect(await statusEventually(url, basic('carol', 'carol-pw'), 200)).toBe(200);
      expect((await get(url, basic('bob', 'bob-pw'))).status).toBe(401);

      // A malformed version is reported and the last good users stay in force.
      expect(logger.messages).toEqual([]);
      await writeFile(path, `alice:${sha('alice-new')}\nmallory:s3cr3t-plain\ndave:${sha('dave-pw')}\n`);
      expect(await eventually(() => logger.messages.length > 0)).toBe(true);
      expect(logger.messages.join('\n')).toMatch(/\bline 2\b/);
      expect(logger.messages.join('\n')).not.toContain('s3cr3t-plain');
      expect((await get(url, basic('carol', 'carol-pw'))).status).toBe(200);
      expect((await get(url, basic('alice', 'alice-new'))).status).toBe(200);
      expect((await get(url, basic('dave', 'dave-pw'))).status).toBe(401);

      // A broken replacement by rename is kept out as well.
      await replaceByRename(path, 'not an htpasswd file\n');
      expect(await eventually(() => logger.messages.length > 1)).toBe(true);
      expect((await get(url, basic('carol', 'carol-pw'))).status).toBe(200);

      // Fixed again: picked up.
      await replaceByRename(path, `dave:${sha('dave-pw')}\n`);
      expect(await statusEventually(url, basic('dave', 'dave-pw'), 200)).toBe(200);
      expect((await get(url, basic('carol', 'carol-pw'))).status).toBe(401);
    });

    it('warns about a duplicate user that appears on reload', async () => {
      const path = dir.file('dup-reload.htpasswd');
      await writeFile(path, `alice:${sha('alice-pw')}\n`);
      const logger = recorder();
      const url = await app({ htpasswd: { file: path }, logger });
      await writeFile(path, `alice:${sha('alice-pw')}\nalice:${sha('alice-2')}\nbob:${sha('bob-pw')}\n`);
      expect(await statusEventually(url, basic('bob', 'bob-pw'), 200)).toBe(200);
      expect(logger.messages.some((message) => message.includes('"alice"'))).toBe(true);
      expect((await get(url, basic('alice', 'alice-2'))).status).toBe(401);
    });

    it('close() resolves and stops the file watcher', async () => {
      const path = dir.file('close.htpasswd');
      await writeFile(path, `alice:${sha('alice-pw')}\n`);
      const closing = framework.lib.basicAuth({ htpasswd: { file: path }, logger: recorder() });
      cleanups.push(() => closing.close());
      const closed = await serve([closing]);
      // A live middleware on the same file shows when a change has been seen.
      const control = await app({ htpasswd: { file: path } });

      await expect(closing.close()).resolves.toBeUndefined();
      await writeFile(path, `bob:${sha('bob-pw')}\n`);
      expect(await statusEventually(control, basic('bob', 'bob-pw'), 200)).toBe(200);
      await sleep(150); // a few settle periods of the watcher: long enough to see a reload if any
      expect((await get(closed.url, basic('bob', 'bob-pw'))).status).toBe(401);
      expect((await get(closed.url, basic('alice', 'alice-pw'))).status).toBe(200);
      // Closing twice is harmless.
      await expect(closing.close()).resolves.toBeUndefined();
    });
  });

  describe('realm and rejections', () => {
    it('challenges with the default realm "Restricted" and credentials_missing', async () => {
      const url = await app({ htpasswd: `alice:${sha('alice-pw')}\n` });
      const res = await get(url);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="Restricted", charset="UTF-8"');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({ error: 'credentials_missing', error_description: expect.any(String) });
    });

    it('challenges with a configured realm and invalid_credentials for wrong ones', async () => {
      const url = await app({ htpasswd: `alice:${sha('alice-pw')}\n`, realm: 'Admin area' });
      const missing = await get(url);
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Basic realm="Admin area", charset="UTF-8"');
      const wrong = await get(url, basic('alice', 'wrong-pw'));
      expect(wrong.status).toBe(401);
      expect(wrong.headers['www-authenticate']).toBe('Basic realm="Admin area", charset="UTF-8"');
      expect(wrong.headers['content-type']).toMatch(/^application\/json/);
      expect(wrong.body).toEqual({ error: 'invalid_credentials', error_description: expect.any(String) });
      expect(wrong.text).not.toContain('wrong-pw');
      const unknown = await get(url, basic('nobody', 'alice-pw'));
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual(wrong.body);
    });
  });

  describe('modes', () => {
    const htpasswd = `alice:${sha('alice-pw')}\n`;
    const servers: Record<string, string> = {};
    const opened: TestServer[] = [];
    beforeAll(async () => {
      for (const mode of ['strict', 'optional', 'permissive'] as const) {
        const made = framework.lib.basicAuth({ htpasswd, mode, logger: recorder() });
        const server = await framework.serve([made]);
        opened.push(server);
        servers[mode] = server.url;
      }
      const byDefault = await framework.serve([framework.lib.basicAuth({ htpasswd, logger: recorder() })]);
      opened.push(byDefault);
      servers.default = byDefault.url;
    });
    afterAll(async () => {
      for (const server of opened) await server.close();
    });

    // README "Modes", cell by cell.
    const table = [
      ...MODES_TABLE,
      { mode: 'default', credential: 'none', status: 401 },
      { mode: 'default', credential: 'invalid', status: 401 },
      { mode: 'default', credential: 'valid', status: 200 },
    ] as const;

    it.each(table)('$mode with $credential credential -> $status', async ({ mode, credential, status }) => {
      const header =
        credential === 'valid'
          ? basic('alice', 'alice-pw')
          : credential === 'invalid'
            ? basic('alice', 'wrong-pw')
            : undefined;
      const res = await get(servers[mode]!, header);
      expect(res.status).toBe(status);
      if (status !== 200) {
        expect(res.headers['www-authenticate']).toBe('Basic realm="Restricted", charset="UTF-8"');
        expect(res.body.error).toBe(credential === 'none' ? 'credentials_missing' : 'invalid_credentials');
        return;
      }
      const echo = res.body as Echo;
      if (credential === 'valid') {
        expect(echo.auth).toEqual({
          subject: 'alice',
          scopes: [],
          method: 'basic',
          basicAuth: { username: 'alice' },
        });
        expect(echo.headers.authorization).toBeUndefined();
        expect(echo.rawHeaders.map((h) => h.toLowerCase())).not.toContain('authorization');
        expect(JSON.stringify(echo)).not.toContain('alice-pw');
      } else if (credential === 'invalid') {
        expect(echo.auth).toBeNull();
        expect(echo.headers.authorization).toBe(header);
      } else {
        expect(echo.auth).toBeNull();
        expect(echo.headers.authorization).toBeUndefined();
      }
    });

    it.each(['basic', 'BASIC', 'bAsIc'])(
      'matches the scheme "%s" case-insensitively and strips it',
      async (scheme) => {
        const encoded = basic('alice', 'alice-pw').slice('Basic '.length);
        const res = await get(servers.strict!, `${scheme} ${encoded}`);
        expect(res.status).toBe(200);
        expect((res.body as Echo).auth?.subject).toBe('alice');
        expect((res.body as Echo).headers.authorization).toBeUndefined();
        expect((res.body as Echo).rawHeaders.map((h) => h.toLowerCase())).not.toContain('authorization');
      },
    );

    it('treats another scheme in Authorization as no credential', async () => {
      const strict = await get(servers.strict!, 'Bearer abc.def.ghi');
      expect(strict.status).toBe(401);
      expect(strict.body.error).toBe('credentials_missing');
      const optional = await get(servers.optional!, 'Bearer abc.def.ghi');
      expect(optional.status).toBe(200);
      expect((optional.body as Echo).auth).toBeNull();
      expect((optional.body as Echo).headers.authorization).toBe('Bearer abc.def.ghi');
    });
  });

  describe('credentials', () => {
    // Entries whose passwords (or names) hold exactly what the decoder must refuse: a 200 here
    // would mean the refusal is missing, not that the hash happened not to match.
    const htpasswd = [
      `alice:${sha('secret1')}`,
      `tab:${sha('a\tb')}`,
      `nul:${sha('ab\u0000')}`,
      `del:${sha('a\u007fb')}`,
      `cone:${sha('a\u0085b')}`,
      `ctl\u0001:${sha('secret1')}`,
      `latin:${sha('pässwörd')}`,
      `carol:${sha('pa:ss:word')}`,
      `colon:${sha(':')}`,
      `zoë:${sha('pässwörd')}`,
      `web:${sha('??>?>>')}`,
    ].join('\n');
    let url: string;
    let opened: TestServer;
    beforeAll(async () => {
      opened = await framework.serve([framework.lib.basicAuth({ htpasswd, logger: recorder() })]);
      url = opened.url;
    });
    afterAll(async () => {
      await opened.close();
    });

    const canonical = Buffer.from('alice:secret1', 'utf8').toString('base64'); // 13 bytes: "==" padding
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const garbageBits = (() => {
      // The character before "==" carries 4 bits that canonical base64 leaves at zero.
      const at = canonical.length - 3;
      const next = ALPHABET[ALPHABET.indexOf(canonical[at]!) + 1]!;
      return canonical.slice(0, at) + next + canonical.slice(at + 1);
    })();

    it('accepts the canonical encoding (control for the cases below)', async () => {
      expect(canonical.endsWith('==')).toBe(true);
      expect((await get(url, `Basic ${canonical}`)).status).toBe(200);
      expect((await get(url, basic('web', '??>?>>'))).status).toBe(200);
    });

    it.each([
      { case: 'trailing garbage bits', encoded: () => garbageBits, decodes: 'alice:secret1' },
      { case: 'missing padding', encoded: () => canonical.replace(/=+$/, ''), decodes: 'alice:secret1' },
      {
        case: 'padding in the middle',
        encoded: () => Buffer.from('alic').toString('base64') + Buffer.from('e:secret1').toString('base64'),
        decodes: undefined,
      },
      {
        case: 'characters outside base64',
        encoded: () => `${canonical.slice(0, -4)}*${canonical.slice(-3)}`,
        decodes: undefined,
      },
      {
        // base64url spelling (with its padding) of "web:??>?>>", whose base64 holds "/" and "+".
        case: 'base64url alphabet',
        encoded: () => `${Buffer.from('web:??>?>>').toString('base64url')}==`,
        decodes: 'web:??>?>>',
      },
      {
        case: 'an inner space',
        encoded: () => `${canonical.slice(0, 4)} ${canonical.slice(4)}`,
        decodes: 'alice:secret1',
      },
    ])('refuses non-canonical base64: $case', async ({ encoded, decodes }) => {
      const value = encoded();
      expect(value).not.toBe(canonical);
      // Node's lenient decoder would read most of these as the real credential.
      if (decodes !== undefined) expect(Buffer.from(value, 'base64').toString('utf8')).toBe(decodes);
      const res = await get(url, `Basic ${value}`);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_credentials');
      expect(res.headers['www-authenticate']).toBe('Basic realm="Restricted", charset="UTF-8"');
    });

    it.each([
      { case: 'no colon', text: 'alicesecret1' },
      { case: 'an empty user', text: ':secret1' },
      { case: 'an empty user and password', text: ':' },
      { case: 'a tab in the password', text: 'tab:a\tb' },
      { case: 'NUL in the password', text: 'nul:ab\u0000' },
      { case: 'DEL in the password', text: 'del:a\u007fb' },
      { case: 'a C1 control (NEL) in the password', text: 'cone:a\u0085b' },
      { case: 'a control character in the user', text: 'ctl\u0001:secret1' },
      { case: 'a newline in the user', text: 'ali\nce:secret1' },
    ])('refuses $case', async ({ text }) => {
      const res = await get(url, `Basic ${Buffer.from(text, 'utf8').toString('base64')}`);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_credentials');
    });

    it('refuses bytes that are not UTF-8 (a Latin-1 encoded password)', async () => {
      const latin1 = Buffer.from('latin:pässwörd', 'latin1');
      expect(latin1.includes(0xe4)).toBe(true);
      expect((await get(url, `Basic ${latin1.toString('base64')}`)).status).toBe(401);
      const overlong = Buffer.concat([Buffer.from('alice:secret1'), Buffer.from([0xc0, 0xaf])]);
      expect((await get(url, `Basic ${overlong.toString('base64')}`)).status).toBe(401);
      // The same characters in UTF-8 are fine.
      expect((await get(url, basic('latin', 'pässwörd'))).status).toBe(200);
    });

    it('splits at the first colon: the password may contain colons', async () => {
      const res = await get(url, basic('carol', 'pa:ss:word'));
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth?.subject).toBe('carol');
      expect((await get(url, basic('carol', 'pa'))).status).toBe(401);
      expect((await get(url, basic('colon', ':'))).status).toBe(200);
    });

    it('decodes UTF-8 users and passwords', async () => {
      const res = await get(url, basic('zoë', 'pässwörd'));
      expect(res.status).toBe(200);
      expect((res.body as Echo).auth).toEqual({
        subject: 'zoë',
        scopes: [],
        method: 'basic',
        basicAuth: { username: 'zoë' },
      });
      expect((await get(url, basic('zoe', 'pässwörd'))).status).toBe(401);
      expect((await get(url, basic('zoë', 'passwörd'))).status).toBe(401);
    });

    it('refuses an empty credential', async () => {
      const res = await get(url, 'Basic');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="Restricted", charset="UTF-8"');
    });
  });

  describe('timing of unknown users', () => {
    /**
     * Median times of `rounds` alternating requests for an unknown user and for a known user
     * with a wrong password. Only their ratio is asserted.
     */
    const timeUnknownAndKnown = async (url: string, known: string, rounds: number) => {
      const unknown: number[] = [];
      const wrong: number[] = [];
      const timed = async (header: string) => {
        const started = performance.now();
        const res = await get(url, header);
        expect(res.status).toBe(401);
        return performance.now() - started;
      };
      // Warm up (the bcrypt worker starts on first use).
      for (let i = 0; i < 2; i++) {
        await timed(basic('nobody', 'wrong-pw'));
        await timed(basic(known, 'wrong-pw'));
      }
      for (let i = 0; i < rounds; i++) {
        // Alternate which goes first so a drifting machine favours neither.
        if (i % 2 === 0) {
          unknown.push(await timed(basic(`nobody${i}`, 'wrong-pw')));
          wrong.push(await timed(basic(known, `wrong-pw${i}`)));
        } else {
          wrong.push(await timed(basic(known, `wrong-pw${i}`)));
          unknown.push(await timed(basic(`nobody${i}`, 'wrong-pw')));
        }
      }
      return median(unknown) / median(wrong);
    };

    it('an unknown user costs about as much as a wrong password (bcrypt cost 8)', async () => {
      const url = await app({ htpasswd: `tim:${cost8}\n` });
      expect((await get(url, basic('tim', 'timing-pw'))).status).toBe(200);
      const ratio = await timeUnknownAndKnown(url, 'tim', 15);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    });

    it('an unknown user costs about as much as a wrong password (apr1)', async () => {
      const url = await app({ htpasswd: `${APACHE_APR1}\n` });
      const ratio = await timeUnknownAndKnown(url, 'user', 25);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    });
  });

  describe('Proxy-Authorization', () => {
    const proxy = { header: { name: 'proxy-authorization', prefix: 'Basic ' } };

    it('answers 407 with Proxy-Authenticate when missing or wrong, 200 and stripped when right', async () => {
      const url = await app({ htpasswd: `alice:${sha('alice-pw')}\n`, location: proxy, realm: 'Proxy' });

      const missing = await request(url).get('/');
      expect(missing.status).toBe(407);
      expect(missing.headers['proxy-authenticate']).toBe('Basic realm="Proxy", charset="UTF-8"');
      expect(missing.headers['www-authenticate']).toBeUndefined();
      expect(missing.body).toEqual({ error: 'credentials_missing', error_description: expect.any(String) });

      const wrong = await request(url).get('/').set('Proxy-Authorization', basic('alice', 'wrong-pw'));
      expect(wrong.status).toBe(407);
      expect(wrong.headers['proxy-authenticate']).toBe('Basic realm="Proxy", charset="UTF-8"');
      expect(wrong.headers['www-authenticate']).toBeUndefined();
      expect(wrong.body.error).toBe('invalid_credentials');

      // Credentials in Authorization are not proxy credentials.
      const elsewhere = await get(url, basic('alice', 'alice-pw'));
      expect(elsewhere.status).toBe(407);

      const right = await request(url)
        .get('/')
        .set('Proxy-Authorization', basic('alice', 'alice-pw'))
        .set('Authorization', 'Bearer for-the-app');
      expect(right.status).toBe(200);
      const echo = right.body as Echo;
      expect(echo.auth).toEqual({
        subject: 'alice',
        scopes: [],
        method: 'basic',
        basicAuth: { username: 'alice' },
      });
      expect(echo.headers['proxy-authorization']).toBeUndefined();
      expect(echo.rawHeaders.map((h) => h.toLowerCase())).not.toContain('proxy-authorization');
      // The app's own Authorization is not touched.
      expect(echo.headers.authorization).toBe('Bearer for-the-app');
    });
  });

  describe('identity', () => {
    it('attaches { subject, scopes: [], method: "basic", basicAuth: { username } } and no password', async () => {
      const url = await app({ htpasswd: `alice:${b2b}\n` });
      const res = await get(url, basic('alice', 'bee-pw'));
      expect(res.status).toBe(200);
      const echo = res.body as Echo;
      expect(echo.auth).toEqual({
        subject: 'alice',
        scopes: [],
        method: 'basic',
        basicAuth: { username: 'alice' },
      });
      expect(JSON.stringify(echo)).not.toContain('bee-pw');
      expect(JSON.stringify(echo)).not.toContain(basic('alice', 'bee-pw').slice(6));
    });
  });

  describe('responsiveness', () => {
    it('answers another route while bcrypt cost-10 checks are in flight', async () => {
      const server = await serve([middleware({ htpasswd: `slow:${cost10}\n`, publicPaths: ['/open'] })]);
      let arrived = 0;
      server.server.on('request', (req: { url?: string }) => {
        if (req.url?.startsWith('/secure')) arrived++;
      });
      const order: string[] = [];
      const secure = Array.from({ length: 8 }, (_, i) =>
        get(server.url, basic('slow', `wrong-pw-${i}`), `/secure/${i}`).then((res) => {
          order.push('secure');
          return res.status;
        }),
      );
      // Every bcrypt request has reached the app before the open one is sent.
      expect(await eventually(() => arrived === 8, { timeoutMs: 5000, stepMs: 5 })).toBe(true);
      const open = await request(server.url).get('/open');
      order.push('open');
      expect(open.status).toBe(200);
      expect((open.body as Echo).auth).toBeNull();
      expect(await Promise.all(secure)).toEqual(Array(8).fill(401));
      // The open route finished before the last bcrypt check did.
      expect(order).toHaveLength(9);
      expect(order.at(-1)).toBe('secure');
    });
  });
});
