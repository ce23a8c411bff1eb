import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { koaRouting } from '../adapters/koa/index.js';
import { ConfigError, type JwtAuthOptions } from '../src/index.js';
import { tempDir } from './support/files.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { closeServer, freePort, listenOnLoopback } from './support/loopback.js';
import { startRecordingUpstream } from './support/recording-upstream.js';

// Issue 11, re-run by an independent reviewer with variants the other suites did not show:
// options objects that are not plain literals (class getters, non-enumerable keys), loggers
// that are not loggers, and the edges of the upstream and key-source rules.

const all = await frameworks();

let key: TestKey;
let other: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256');
  other = await makeKey('ES256');
});

/** Options as a configuration loader would give them: unchecked by TypeScript. */
const loose = <T>(value: unknown): T => value as T;

type Closable = { close(): Promise<void> };

/** The ConfigError `make` throws; a middleware it made anyway is closed and the test fails. */
function configError(make: () => unknown): ConfigError {
  let made: unknown;
  try {
    made = make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  void (made as Partial<Closable> | undefined)?.close?.();
  expect.fail('expected a ConfigError');
}

describe.each(all)('options that are not plain object literals, on $name', (framework) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A class whose typo is a getter: invisible to Object.keys, and read by nobody. */
  class GetterTypo {
    issuer = ISSUER;
    jwks = { inline: jwks(key) };
    get audience(): string {
      return AUDIENCE;
    }
  }
  class AllGetters {
    get issuer(): string {
      return ISSUER;
    }
    get jwks(): object {
      return { inline: jwks(key) };
    }
    get audeinces(): string[] {
      return [AUDIENCE];
    }
  }
  const hidden = (): object => {
    const options = { issuer: ISSUER, jwks: { inline: jwks(key) } };
    Object.defineProperty(options, 'audience', { value: AUDIENCE, enumerable: false });
    return options;
  };

  it.each([
    ['a class getter', () => new GetterTypo(), 'audience', 'audiences'],
    ['a class of getters only', () => new AllGetters(), 'audeinces', 'audiences'],
    ['a non-enumerable own key', hidden, 'audience', 'audiences'],
    [
      'a getter in a provider entry',
      () => ({ providers: [new GetterTypo()] }),
      'providers[0].audience',
      'audiences',
    ],
    [
      'a getter in a nested location',
      () => ({
        issuer: ISSUER,
        jwks: { inline: jwks(key) },
        location: {
          header: new (class {
            name = 'x-token';
            get prefx() {
              return 'Bearer ';
            }
          })(),
        },
      }),
      'location.header.prefx',
      'prefix',
    ],
  ])('refuses a typo in %s, naming the key and the option meant', (_what, make, field, meant) => {
    const error = configError(() => framework.lib.jwtAuth(loose<JwtAuthOptions>(make())));
    expect(error.field).toBe(field);
    expect(error.message).toContain(`did you mean \`${meant}\`?`);
  });

  it("accepts node-config's objects: hidden get()/has() methods are not options", () => {
    const hideMethods = <T extends object>(target: T): T => {
      for (const name of ['get', 'has', 'util']) {
        Object.defineProperty(target, name, { value: () => undefined, enumerable: false });
      }
      return target;
    };
    const options = hideMethods({
      issuer: ISSUER,
      audiences: [AUDIENCE],
      jwks: hideMethods({ inline: jwks(key) }),
      location: hideMethods({ header: hideMethods({ name: 'x-token' }) }),
    });
    void framework.lib.jwtAuth(Object.freeze(options)).close();
    const typo = hideMethods({ issuer: ISSUER, jwks: { inline: jwks(key) }, audeince: [AUDIENCE] });
    expect(configError(() => framework.lib.jwtAuth(loose(typo))).field).toBe('audeince');
  });

  it('refuses a getter typo in an API-key record and in backendAuth', () => {
    const record = new (class {
      name = 'ci';
      key = 'ak_ci_0123456789abcdef';
      get scope() {
        return ['read'];
      }
    })();
    expect(configError(() => framework.lib.apiKeyAuth({ keys: [loose(record)] })).field).toBe(
      'keys[0].scope',
    );
    const backend = new (class {
      openai = { apiKey: 'sk-0123456789abcdef' };
      get upstrem() {
        return 'https://api.openai.com/v1';
      }
    })();
    expect(configError(() => framework.lib.backendAuth(loose(backend))).field).toBe('upstrem');
  });

  it("keeps a class's methods and its known getters: a provider entry's getter audience is checked", async () => {
    class ProviderConfig {
      issuer = ISSUER;
      jwks = { inline: jwks(key) };
      get audiences(): string[] {
        return [AUDIENCE];
      }
      describe(): string {
        return 'a method is not an option';
      }
    }
    const made = framework.lib.jwtAuth({ providers: [new ProviderConfig()] });
    cleanups.push(() => made.close());
    const server = await framework.serve([made]);
    cleanups.push(() => server.close());
    const get = (token: string) => request(server.url).get('/x').set('authorization', `Bearer ${token}`);
    expect((await get(await sign(key))).status).toBe(200);
    // A spread of the entry would have dropped the getter, and with it the audience check.
    const wrongAudience = await get(await sign(key, {}, { audience: 'another-api' }));
    expect(wrongAudience.status).toBe(401);
    expect((await get(await sign(other))).status).toBe(401);
  });

  const loggers: [string, unknown][] = [
    ['a misspelt method', { warning() {} }],
    ['warn that is not a function', { warn: 'console' }],
    ['null', null],
    ['a function', () => undefined],
    ['info that is not a function', { warn() {}, info: true }],
  ];
  const factories: [string, (logger: unknown) => unknown][] = [
    [
      'jwtAuth',
      (logger) => framework.lib.jwtAuth(loose({ issuer: ISSUER, jwks: { inline: jwks(key) }, logger })),
    ],
    [
      'basicAuth',
      (logger) =>
        framework.lib.basicAuth(loose({ htpasswd: 'alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n', logger })),
    ],
    ['apiKeyAuth', (logger) => framework.lib.apiKeyAuth(loose({ keys: [], logger }))],
    [
      'customAuth',
      (logger) => framework.lib.customAuth({ authenticate: () => undefined as never }, loose({ logger })),
    ],
    [
      'backendAuth',
      (logger) => framework.lib.backendAuth(loose({ openai: { apiKey: 'sk-0123456789abcdef' }, logger })),
    ],
  ];
  for (const [factory, make] of factories) {
    it.each(loggers)(`${factory} refuses a logger with %s at start-up`, (_what, logger) => {
      const error = configError(() => make(logger));
      expect(error.field).toMatch(/^logger/);
    });
  }

  it('accepts console and an object with warn (and info) as the logger', () => {
    for (const logger of [console, { warn() {} }, { warn() {}, info() {} }]) {
      const made = framework.lib.jwtAuth({ issuer: ISSUER, jwks: { inline: jwks(key) }, logger });
      void made.close();
    }
  });
});

describe('koaRouting() options', () => {
  it.each([
    [null, 'koaRouting', /must be an object/],
    [{ caseSensitve: true }, 'caseSensitve', /did you mean `caseSensitive`\?/],
    [{ sensitive: true }, 'sensitive', /did you mean `caseSensitive`\?/],
    [{ Strict: true }, 'Strict', /did you mean `strict`\?/],
    [{ strict: 'true' }, 'strict', /true or false/],
  ])('refuses %j with a ConfigError naming %s', (routing, field, message) => {
    const error = configError(() => koaRouting({}, loose(routing)));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });
});

/**
 * A token endpoint that answers 200 and then streams JSON whitespace without end (no
 * Content-Length), counting what it managed to write before the client hung up.
 */
async function endlessTokenEndpoint() {
  const state = { written: 0, closed: false };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!res.destroyed && state.written < 256 * 1024 * 1024) {
          state.written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => {
        state.closed = true;
      });
      pump();
    });
  });
  await listenOnLoopback(server);
  const { port } = server.address() as AddressInfo;
  return { state, authorityHost: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

describe.each(all)('every answer portcullis fetches is read while counting, on $name', (framework) => {
  it('an Entra ID token endpoint that streams without end: 502, the read stops near the cap', async () => {
    const endpoint = await endlessTokenEndpoint();
    const upstream = await startRecordingUpstream();
    const backend = framework.lib.backendAuth({
      azure: {
        tenantId: 'contoso',
        clientId: 'client',
        clientSecret: 'client-secret-value',
        authorityHost: endpoint.authorityHost,
      },
      logger: { warn() {} },
    });
    const server = await framework.serve([backend], { forwardTo: upstream.url });
    try {
      const answer = await request(server.url).get('/v1/chat');
      expect(answer.status).toBe(502);
      expect(answer.body.error).toBe('backend_credentials_failed');
      expect(upstream.received).toEqual([]);
      await expect.poll(() => endpoint.state.closed).toBe(true);
      // The cap is 64 KiB; what was in flight in socket buffers is all the endpoint got out.
      expect(endpoint.state.written).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await backend.close();
      await server.close();
      await upstream.close();
      await endpoint.close();
    }
  });
});

describe.each(all)(
  'a credential location never names a hop-by-hop or framing header, on $name',
  (framework) => {
    const { lib } = framework;
    const NAMES = [
      'content-length',
      'Content_Length',
      'transfer-encoding',
      'host',
      'HOST',
      'connection',
      'proxy-connection',
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'expect',
    ];
    const AT: [string, (name: string) => unknown, string][] = [
      [
        'jwtAuth location',
        (name) =>
          lib.jwtAuth(loose({ issuer: ISSUER, jwks: { inline: jwks(key) }, location: { header: { name } } })),
        'location.header.name',
      ],
      [
        'apiKeyAuth location',
        (name) => lib.apiKeyAuth({ keys: [], location: { header: { name } } }),
        'location.header.name',
      ],
      [
        'backendAuth key location',
        (name) => lib.backendAuth({ key: { value: 'k-0123456789', location: { header: { name } } } }),
        'key.location.header.name',
      ],
      [
        'backendAuth passthrough location',
        (name) => lib.backendAuth({ passthrough: { location: { header: { name, prefix: 'Bearer ' } } } }),
        'passthrough.location.header.name',
      ],
      [
        'backendAuth strip',
        (name) => lib.backendAuth({ openai: { apiKey: 'sk-0123456789' }, strip: [{ header: { name } }] }),
        'strip[0].header.name',
      ],
    ];
    const CASES = AT.flatMap(([where, make, field]) => NAMES.map((name) => ({ where, make, field, name })));
    it.each(CASES)('$where refuses "$name"', ({ make, field, name }) => {
      const error = configError(() => make(name));
      expect(error.field).toBe(field);
      expect(error.message).toContain('hop-by-hop or framing');
    });

    it('keeps the usual credential headers, Proxy-Authorization and Cookie among them', () => {
      for (const name of [
        'authorization',
        'proxy-authorization',
        'x-api-key',
        'cookie',
        'x-forwarded-user',
      ]) {
        void lib.backendAuth({ key: { value: 'k-0123456789', location: { header: { name } } } }).close();
        void lib.apiKeyAuth({ keys: [], location: { header: { name } } }).close();
      }
    });
  },
);

describe.each(all)('a backend key written as a cookie is one cookie, on $name', (framework) => {
  it.each(['key; admin=1', 'key,admin=1', 'key admin', 'key"', 'key\\x'])(
    'refuses %j at start-up, without echoing it',
    (value) => {
      const error = configError(() =>
        framework.lib.backendAuth({ key: { value, location: { cookie: { name: 'backend_session' } } } }),
      );
      expect(error.field).toBe('key.value');
      expect(error.message).not.toContain(value);
    },
  );

  it('refuses such a value from the environment too, and keeps a header location for it', () => {
    process.env.PORTCULLIS_REVIEW_COOKIE_KEY = 'k1;admin=1';
    try {
      const error = configError(() =>
        framework.lib.backendAuth({
          key: { value: '$PORTCULLIS_REVIEW_COOKIE_KEY', location: { cookie: { name: 's' } } },
        }),
      );
      expect(error.field).toBe('key.value');
      // In a header the same text is one value: nothing to split.
      void framework.lib
        .backendAuth({
          key: { value: '$PORTCULLIS_REVIEW_COOKIE_KEY', location: { header: { name: 'x-key' } } },
        })
        .close();
    } finally {
      delete process.env.PORTCULLIS_REVIEW_COOKIE_KEY;
    }
  });

  it("a valid cookie key reaches the upstream as exactly one cookie beside the client's", async () => {
    const upstream = await startRecordingUpstream();
    const backend = framework.lib.backendAuth({
      key: { value: 'k-0123456789!#$%&', location: { cookie: { name: 'backend_session' } } },
    });
    const server = await framework.serve([backend], { forwardTo: upstream.url });
    try {
      const answer = await request(server.url)
        .get('/v1/x')
        .set('cookie', 'theme=dark; Backend_Session=spoofed; backend_session=spoofed2');
      expect(answer.status).toBe(200);
      expect(upstream.last().headers.cookie).toBe('theme=dark; backend_session=k-0123456789!#$%&');
    } finally {
      await backend.close();
      await server.close();
      await upstream.close();
    }
  });
});

describe.each(all)('a secret written as a reference where none is resolved, on $name', (framework) => {
  const { lib } = framework;
  // backendAuth resolves these; a record key or an HMAC secret taken as written is guessable.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: references as configuration text
  const REFERENCES = ['$PARTNER_KEY', '${PARTNER_KEY}', '${PARTNER_KEY:-dev-partner-key}', '$api_key_1'];

  it.each(REFERENCES)(
    'apiKeyAuth refuses the record key %j (options, add() and a keys file)',
    async (key) => {
      expect(configError(() => lib.apiKeyAuth({ keys: [{ name: 'partner', key }] })).field).toBe(
        'keys[0].key',
      );
      const keys = lib.apiKeyAuth({ keys: [] });
      try {
        expect(configError(() => keys.add({ name: 'partner', key })).field).toBe('record.key');
      } finally {
        await keys.close();
      }
      const dir = await tempDir();
      try {
        const file = dir.file('keys.json');
        await writeFile(file, JSON.stringify([{ name: 'partner', key }]));
        expect(configError(() => lib.apiKeyAuth({ keys: { file } })).message).toContain('[0].key');
      } finally {
        await dir.remove();
      }
    },
  );

  it('the same text was a working, guessable key before: it never authenticates now', async () => {
    const made = lib.apiKeyAuth({ keys: [{ name: 'partner', key: 'ak$PARTNER-KEY' }] });
    const server = await framework.serve([made]);
    try {
      // A `$` inside a key is an ordinary character: only a whole reference is refused.
      const ok = await request(server.url).get('/x').set('authorization', 'Bearer ak$PARTNER-KEY');
      expect(ok.status).toBe(200);
      const guessed = await request(server.url).get('/x').set('authorization', 'Bearer $PARTNER_KEY');
      expect(guessed.status).toBe(401);
    } finally {
      await made.close();
      await server.close();
    }
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: a reference as configuration text
  it.each(['${JWT_SECRET:-a-development-secret-of-32-bytes!}', '$JWT_SECRET_FOR_THE_INTERNAL_ISSUER_X'])(
    'jwtAuth refuses the HMAC secret %j',
    (secret) => {
      const error = configError(() => lib.jwtAuth({ issuer: 'internal', secret, algorithms: ['HS256'] }));
      expect(error.field).toBe('secret');
      expect(error.message).not.toContain(secret);
    },
  );
});

/**
 * Writes `head` (and nothing else) on a fresh connection; the status code and the text that come
 * back before the server closes it (every head asks for `Connection: close`).
 */
function rawExchange(url: string, head: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.from(head, 'latin1')));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () =>
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text }),
    );
  });
}

describe.each(all)('hostile request lines never make a 500 or a stack trace, on $name', (framework) => {
  const { lib } = framework;
  const HOSTILE: [string, string][] = [
    ['asterisk-form GET', 'GET * HTTP/1.1\r\nHost: gw\r\n'],
    ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: gw\r\n'],
    ['absolute-form to another host', 'GET http://evil.example/admin HTTP/1.1\r\nHost: gw\r\n'],
    ['absolute-form with userinfo', 'GET http://u:p@gw/x HTTP/1.1\r\nHost: gw\r\n'],
    ['absolute-form with a bad port', 'GET http://gw:99999/x HTTP/1.1\r\nHost: gw\r\n'],
    ['absolute-form https', 'GET https://gw/admin HTTP/1.1\r\nHost: gw\r\n'],
    ['no Host, HTTP/1.0', 'GET /x HTTP/1.0\r\n'],
    ['empty Host', 'GET /x HTTP/1.1\r\nHost: \r\n'],
    ['empty path segments', 'GET //x//../admin HTTP/1.1\r\nHost: gw\r\n'],
    ['bad percent-encoding', 'GET /%zz/%c0%af?%zz=%ff&a=%E2%82 HTTP/1.1\r\nHost: gw\r\n'],
    [
      'prototype names in the query',
      'GET /x?__proto__=1&constructor=2&tenant[__proto__]=3 HTTP/1.1\r\nHost: gw\r\n',
    ],
    ['prototype names in headers', 'GET /x HTTP/1.1\r\nHost: gw\r\n__proto__: 1\r\nconstructor: 2\r\n'],
    ['obs-text in an identity header', 'GET /x HTTP/1.1\r\nHost: gw\r\nX-User-Id: \xe9\x85admin\r\n'],
    ['a cookie of separators', 'GET /x HTTP/1.1\r\nHost: gw\r\nCookie: =;=;;="";session\r\n'],
    [
      'Connection naming everything',
      'GET /x HTTP/1.1\r\nHost: gw\r\nConnection: close, host, content-length, x-user-id, authorization, cookie\r\n',
    ],
    ['Bearer with nothing after it', 'GET /x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer\r\n'],
    ['a long junk token', `GET /x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${'e'.repeat(20_000)}\r\n`],
    ['a token of three empty parts', 'GET /x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ..\r\n'],
    [
      'many query parameters',
      `GET /x?${Array.from({ length: 1500 }, (_, i) => `p${i}=1`).join('&')} HTTP/1.1\r\nHost: gw\r\n`,
    ],
    ['tenant sent twice', 'GET /x?tenant=red&tenant=blue HTTP/1.1\r\nHost: gw\r\n'],
  ];

  it.each(HOSTILE)('%s', async (_what, head) => {
    const key = await makeKey('ES256');
    const upstream = await startRecordingUpstream();
    const made = [
      lib.jwtAuth({
        issuer: ISSUER,
        audiences: [AUDIENCE],
        jwks: { inline: jwks(key) },
        mode: 'optional',
        publicPaths: ['/health'],
      }),
      lib.authorize({
        rules: [
          { deny: 'request.path == "/admin"' },
          { deny: 'has(request.query.tenant) && request.query.tenant == "blue"' },
          { deny: 'request.host == "evil.example"' },
        ],
      }),
      lib.forwardIdentity({ headers: { 'x-user-id': 'auth.subject', 'x-tenant': 'request.query.tenant' } }),
      lib.backendAuth({ openai: { apiKey: 'sk-0123456789abcdef' } }),
    ];
    const server = await framework.serve(made, { forwardTo: upstream.url });
    try {
      const close = head.includes('Connection:') ? '' : 'Connection: close\r\n';
      const { status, text } = await rawExchange(server.url, `${head}${close}\r\n`);
      expect(status, text.slice(0, 300)).toBeGreaterThanOrEqual(200);
      expect(status, text.slice(0, 300)).toBeLessThan(500);
      expect(text).not.toMatch(/\bat .*\(|node:internal/);
      // (The recording upstream echoes what it got, the backend key included; a refusal never has it.)
      if (status >= 400) expect(text).not.toContain('sk-0123456789abcdef');
      for (const received of upstream.received) {
        expect(received.headers['x-user-id']).toBeUndefined();
        expect(received.url).not.toMatch(/admin/i);
      }
    } finally {
      for (const middleware of made) await (middleware as Partial<Closable>).close?.();
      await server.close();
      await upstream.close();
    }
  });
});

describe.each(all)("backendAuth's apply() context is checked like options, on $name", (framework) => {
  it.each([
    [{ incomming: {} }, 'apply() context.incomming', 'incoming'],
    [{ req: {} }, 'apply() context.req', 'incoming'],
    [{ auth: undefined, user: {} }, 'apply() context.user', undefined],
    [null, 'apply() context', undefined],
  ])(
    'refuses %j: the client credential an inbound scheme read would be left on the request',
    async (context, field, meant) => {
      const backend = framework.lib.backendAuth({ openai: { apiKey: 'sk-0123456789abcdef' } });
      try {
        const error = await backend
          .apply({ method: 'GET', url: 'https://api.example.com/v1/x', headers: {} }, loose(context))
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).field).toBe(field);
        if (meant !== undefined)
          expect((error as ConfigError).message).toContain(`did you mean \`${meant}\`?`);
      } finally {
        await backend.close();
      }
    },
  );

  it('strips what an inbound scheme read when the context is spelt right', async () => {
    const upstream = await startRecordingUpstream();
    const keys = framework.lib.apiKeyAuth({
      keys: [{ name: 'client', key: 'ak_client_0123456789' }],
      location: { header: { name: 'x-api-key' } },
    });
    const backend = framework.lib.backendAuth({ openai: { apiKey: 'sk-0123456789abcdef' } });
    // The echo route is not used: a last middleware sends the request itself through apply().
    const send = framework.name.startsWith('express')
      ? async (
          req: import('node:http').IncomingMessage & { auth?: unknown },
          res: import('node:http').ServerResponse,
        ) => {
          const prepared = await backend.apply(
            { method: 'GET', url: `${upstream.url}/v1/x`, headers: req.headers as Record<string, string> },
            { incoming: req },
          );
          const answer = await fetch(prepared.url, prepared);
          res.setHeader('content-type', 'application/json');
          res.end(await answer.text());
        }
      : async (ctx: { req: import('node:http').IncomingMessage; body: unknown }) => {
          const prepared = await backend.apply(
            {
              method: 'GET',
              url: `${upstream.url}/v1/x`,
              headers: ctx.req.headers as Record<string, string>,
            },
            { incoming: ctx.req },
          );
          const answer = await fetch(prepared.url, prepared);
          ctx.body = JSON.parse(await answer.text());
        };
    const server = await framework.serve([keys, send]);
    try {
      const answer = await request(server.url)
        .get('/v1/x')
        .set('x-api-key', 'ak_client_0123456789')
        .set('X_Api_Key', 'a-second-copy');
      expect(answer.status).toBe(400); // two spellings of the key: ambiguous, refused before apply()
      const ok = await request(server.url).get('/v1/x').set('x-api-key', 'ak_client_0123456789');
      expect(ok.status).toBe(200);
      expect(upstream.last().headers['x-api-key']).toBeUndefined();
      expect(upstream.last().headers.authorization).toBe('Bearer sk-0123456789abcdef');
    } finally {
      await keys.close();
      await backend.close();
      await server.close();
      await upstream.close();
    }
  });
});

describe.each(all)(
  'a credential header in a spelling an upstream folds is present, on $name',
  (framework) => {
    const KEY = 'ak_client_0123456789';
    const serve = async (mode: 'strict' | 'optional') => {
      const keys = framework.lib.apiKeyAuth({
        keys: [{ name: 'client', key: KEY }],
        location: { header: { name: 'x-api-key' } },
        mode,
      });
      const server = await framework.serve([keys]);
      return {
        url: server.url,
        close: async () => {
          await keys.close();
          await server.close();
        },
      };
    };

    it.each(['X.Api.Key', 'x~api~key', "x'api'key", 'X_API-KEY', 'x+api+key'])(
      'alone, %s is a malformed credential (401), not an anonymous request',
      async (name) => {
        const app = await serve('optional');
        try {
          const answer = await request(app.url).get('/x').set(name, KEY);
          expect(answer.status).toBe(401);
          expect(answer.body.error).toBe('invalid_request');
        } finally {
          await app.close();
        }
      },
    );

    it.each(['X.Api.Key', 'x~api~key', 'x_api_key'])(
      'beside x-api-key, %s makes it sent twice (400)',
      async (name) => {
        const app = await serve('strict');
        try {
          const answer = await request(app.url).get('/x').set('x-api-key', KEY).set(name, 'another');
          expect(answer.status).toBe(400);
          const alone = await request(app.url).get('/x').set('x-api-key', KEY);
          expect(alone.status).toBe(200);
          expect(JSON.stringify(alone.body.rawHeaders)).not.toContain(KEY);
        } finally {
          await app.close();
        }
      },
    );
  },
);

describe.each(all)('a logger that throws never takes the gateway down, on $name', (framework) => {
  it('a key source that is down reports through a throwing logger: 503, no unhandled rejection', async () => {
    const port = await freePort();
    let calls = 0;
    const logger = {
      warn(): void {
        calls++;
        throw new Error('the log pipe is closed');
      },
    };
    const made = framework.lib.jwtAuth({
      issuer: ISSUER,
      audiences: [AUDIENCE],
      jwks: { url: `http://127.0.0.1:${port}/jwks.json` },
      logger,
    });
    const server = await framework.serve([made]);
    try {
      const answer = await request(server.url)
        .get('/x')
        .set('authorization', `Bearer ${await sign(key)}`);
      expect(answer.status).toBe(503);
      expect(answer.body.error).toBe('temporarily_unavailable');
      expect(calls).toBeGreaterThan(0);
      // A second request after the failure was logged: the process and the app are still here.
      expect(
        (
          await request(server.url)
            .get('/x')
            .set('authorization', `Bearer ${await sign(key)}`)
        ).status,
      ).toBe(503);
    } finally {
      await made.close();
      await server.close();
    }
  });
});
