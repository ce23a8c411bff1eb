import { createHash } from 'node:crypto';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApplyContext,
  type Auth,
  type BackendAuthOptions,
  backendCredentials,
  ConfigError,
  type CredentialLocation,
  type OutgoingRequest,
  type PreparedRequest,
} from '../src/index.js';
import { thrown } from './support/backend-harness.js';
import { replaceByRename, type TempDir, tempDir } from './support/files.js';
import type { TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { rawGet } from './support/raw-request.js';
import {
  type Received,
  type RecordingUpstream,
  startRecordingUpstream,
} from './support/recording-upstream.js';
import { eventually, type RecordingLogger, recorder } from './support/wait.js';

// backendAuth on both adapters, in front of a real forwarder (Express: http-proxy-middleware;
// Koa: the fetch forwarder): static keys at every location, the presets, passthrough of the
// validated JWT, secret references, key files rotated without a restart, refused secrets and
// options, and the core backendCredentials().apply() for code that sends its own requests.
// Every assertion is on what a recording upstream actually received.

const all = await frameworks();

const BACKEND_KEY = 'sk-backend-7f3a9c2e1b4d';
const CLIENT_TOKEN = 'client-token-c1d2e3f4a5b6';
const ALICE_KEY = 'ak_alice_5f0c1e9a7b3d4c2e8f61a0b9';
const UNKNOWN_KEY = 'ak_nobody_ffeeddccbbaa99887766';
const ALICE_PASSWORD = 'alice-pw-9d8c7b6a';
const basicHeader = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const sha = (password: string) => `{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`;

// Environment variables the secret-reference tests read; removed again after the file.
const ENV = {
  key: 'PORTCULLIS_BACKEND_TEST_KEY',
  other: 'PORTCULLIS_BACKEND_TEST_OTHER',
  unset: 'PORTCULLIS_BACKEND_TEST_UNSET',
  empty: 'PORTCULLIS_BACKEND_TEST_EMPTY',
  crlf: 'PORTCULLIS_BACKEND_TEST_CRLF',
} as const;
process.env[ENV.key] = 'sk-from-env-0a1b2c3d';
process.env[ENV.other] = 'sk-other-env-4e5f6a7b';
delete process.env[ENV.unset];
process.env[ENV.empty] = '';
process.env[ENV.crlf] = 'sk-env-SECRETPART\r\nx-injected: 1';
afterAll(() => {
  for (const name of Object.values(ENV)) delete process.env[name];
});

let signingKey: TestKey;
let forger: TestKey;
let validJwt: string;
let forgedJwt: string;

beforeAll(async () => {
  signingKey = await makeKey('RS256');
  forger = await makeKey('RS256', signingKey.kid); // same kid, another key: a forgery
  validJwt = await sign(signingKey, { groups: ['admins'] });
  forgedJwt = await sign(forger);
});

const jwtOptions = (extra: Record<string, unknown> = {}) => ({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: jwks(signingKey) },
  ...extra,
});

/** Every header value the upstream received under `name`, from the raw list. */
function rawValues(received: Received, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < received.rawHeaders.length; i += 2) {
    if (received.rawHeaders[i]!.toLowerCase() === name) values.push(received.rawHeaders[i + 1]!);
  }
  return values;
}

/** The cookies the upstream received, in order, as `name=value` pairs. */
function cookiesOf(received: Received): string[] {
  const header = received.headers.cookie;
  if (header === undefined) return [];
  return (Array.isArray(header) ? header.join('; ') : header).split(';').map((pair) => pair.trim());
}

const queryOf = (received: Received) => new URL(received.url, 'http://upstream.invalid').searchParams;

const X_API_KEY = { header: { name: 'x-api-key' } } as const;

/** A location a secret was written to, and how to read it back from what the upstream received. */
interface LocationCase {
  name: string;
  location?: CredentialLocation;
  read(received: Received): string[];
  sent: (key: string) => string;
}

const LOCATION_CASES: LocationCase[] = [
  {
    name: 'default Authorization: Bearer',
    read: (received) => rawValues(received, 'authorization'),
    sent: (key) => `Bearer ${key}`,
  },
  {
    name: 'custom header and prefix',
    location: { header: { name: 'X-Upstream-Auth', prefix: 'Token ' } },
    read: (received) => rawValues(received, 'x-upstream-auth'),
    sent: (key) => `Token ${key}`,
  },
  {
    name: 'header without prefix',
    location: { header: { name: 'x-upstream-key' } },
    read: (received) => rawValues(received, 'x-upstream-key'),
    sent: (key) => key,
  },
  {
    name: 'query parameter',
    location: { queryParameter: { name: 'api_key' } },
    read: (received) => queryOf(received).getAll('api_key'),
    sent: (key) => key,
  },
  {
    name: 'cookie',
    location: { cookie: { name: 'token' } },
    read: (received) =>
      cookiesOf(received)
        .filter((pair) => pair.startsWith('token='))
        .map((pair) => pair.slice('token='.length)),
    sent: (key) => key,
  },
];

describe.each(all)('backendAuth on $name', (framework) => {
  const lib = framework.lib;
  let up: RecordingUpstream;
  let dir: TempDir;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    up = await startRecordingUpstream();
    dir = await tempDir('portcullis-backend-');
  });
  afterAll(async () => {
    await up.close();
    await dir.remove();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A middleware closed after the test. */
  function made<T extends { close(): Promise<void> }>(middleware: T): T {
    cleanups.push(() => middleware.close());
    return middleware;
  }
  /** backendAuth with a recording logger, closed after the test. */
  const backend = (options: BackendAuthOptions, logger: RecordingLogger = recorder()) =>
    made(lib.backendAuth({ logger, ...options } as BackendAuthOptions));
  const jwtAuth = (extra: Record<string, unknown> = {}) => made(lib.jwtAuth(jwtOptions(extra)));
  const apiKeyAuth = (extra: Record<string, unknown> = {}) =>
    made(lib.apiKeyAuth({ keys: [{ name: 'alice', key: ALICE_KEY, scopes: ['read'] }], ...extra }));
  /** A real app: `middlewares`, then a forwarder to the recording upstream. Its URL. */
  const gateway = async (middlewares: unknown[], errorHandler = false): Promise<string> => {
    const server: TestServer = await framework.serve(middlewares, { forwardTo: up.url, errorHandler });
    cleanups.push(() => server.close());
    return server.url;
  };
  /** Makes the request, checks the upstream got it, and returns what the upstream received. */
  const forwarded = async (req: request.Test): Promise<Received> => {
    const before = up.received.length;
    const res = await req;
    expect(res.status, res.text).toBe(200);
    expect(up.received.length).toBe(before + 1);
    return up.last();
  };
  /** The ConfigError `options` is refused with at start-up. */
  const startupError = (options: unknown): Error => {
    const error = thrown(() => backend(options as BackendAuthOptions));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(lib.ConfigError);
    return error;
  };

  describe('key locations', () => {
    it.each(LOCATION_CASES)('$name: the key reaches the upstream, once', async ({ location, read, sent }) => {
      const url = await gateway([
        backend({ key: { value: BACKEND_KEY, ...(location ? { location } : {}) } } as BackendAuthOptions),
      ]);
      const received = await forwarded(request(url).get('/v1/items'));
      expect(read(received)).toEqual([sent(BACKEND_KEY)]);
      expect(new URL(received.url, 'http://u.invalid').pathname).toBe('/v1/items');
    });

    it('key: "<value>" is short for key: { value } (Bearer), secret references included', async () => {
      const url = await gateway([backend({ key: `$${ENV.key}` })]);
      const received = await forwarded(
        request(url).get('/v1').set('Authorization', `Bearer ${CLIENT_TOKEN}`),
      );
      expect(rawValues(received, 'authorization')).toEqual([`Bearer ${process.env[ENV.key]}`]);
    });

    it('Bearer default: the client Authorization is replaced, not appended to', async () => {
      const url = await gateway([backend({ key: { value: BACKEND_KEY } })]);
      const received = await forwarded(
        request(url).get('/v1').set('Authorization', `Bearer ${CLIENT_TOKEN}`),
      );
      expect(rawValues(received, 'authorization')).toEqual([`Bearer ${BACKEND_KEY}`]);
      expect(JSON.stringify(received)).not.toContain(CLIENT_TOKEN);
    });

    it('custom header: the client values of that header (even repeated) are replaced by the key', async () => {
      const url = await gateway([
        backend({
          key: { value: BACKEND_KEY, location: { header: { name: 'x-upstream-auth', prefix: 'Token ' } } },
        }),
      ]);
      const res = await rawGet(`${url}/v1`, { 'X-Upstream-Auth': ['Token client-one', 'Token client-two'] });
      expect(res.status).toBe(200);
      const received = up.last();
      expect(rawValues(received, 'x-upstream-auth')).toEqual([`Token ${BACKEND_KEY}`]);
      expect(JSON.stringify(received)).not.toMatch(/client-one|client-two/);
    });

    it('query parameter: the client value is replaced, other parameters are kept as sent', async () => {
      const url = await gateway([
        backend({ key: { value: BACKEND_KEY, location: { queryParameter: { name: 'api_key' } } } }),
      ]);
      const received = await forwarded(
        request(url).get(`/v1/items?page=2&api_key=${CLIENT_TOKEN}&q=a%20b&api_key=again&flag`),
      );
      expect(received.url).toBe(`/v1/items?page=2&q=a%20b&flag&api_key=${BACKEND_KEY}`);
      const query = queryOf(received);
      expect(query.getAll('api_key')).toEqual([BACKEND_KEY]);
      expect(query.get('page')).toBe('2');
      expect(query.get('q')).toBe('a b');
      expect(received.url).not.toContain(CLIENT_TOKEN);
    });

    it('query parameter: a key with reserved characters is percent-encoded and decodes to itself', async () => {
      const key = 'sk+with/reserved=chars&more';
      const url = await gateway([
        backend({ key: { value: key, location: { queryParameter: { name: 'key' } } } }),
      ]);
      const received = await forwarded(request(url).get('/v1?x=1'));
      expect(queryOf(received).getAll('key')).toEqual([key]);
      expect(queryOf(received).get('x')).toBe('1');
    });

    it('cookie: the client cookie of that name is replaced, the other cookies are kept', async () => {
      const url = await gateway([
        backend({ key: { value: BACKEND_KEY, location: { cookie: { name: 'token' } } } }),
      ]);
      const received = await forwarded(
        request(url).get('/v1').set('Cookie', `theme=dark; token=${CLIENT_TOKEN}; lang=en`),
      );
      expect(cookiesOf(received)).toEqual(['theme=dark', 'lang=en', `token=${BACKEND_KEY}`]);
      expect(JSON.stringify(received)).not.toContain(CLIENT_TOKEN);
    });

    it('cookie: written when the client sent no cookie at all', async () => {
      const url = await gateway([
        backend({ key: { value: BACKEND_KEY, location: { cookie: { name: 'token' } } } }),
      ]);
      const received = await forwarded(request(url).get('/v1'));
      expect(cookiesOf(received)).toEqual([`token=${BACKEND_KEY}`]);
    });

    it('the request method, path and JSON body reach the upstream unchanged', async () => {
      const url = await gateway([backend({ key: { value: BACKEND_KEY } })]);
      const payload = { model: 'gpt', messages: [{ role: 'user', content: 'héllo ✓' }], n: 3 };
      const received = await forwarded(
        request(url)
          .post('/v1/chat/completions?stream=false')
          .set('Content-Type', 'application/json')
          .send(payload),
      );
      expect(received.method).toBe('POST');
      expect(received.url).toBe('/v1/chat/completions?stream=false');
      expect(received.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(received.body)).toEqual(payload);
      expect(received.headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);

      const put = await forwarded(
        request(url).put('/v1/files/7').set('Content-Type', 'text/plain').send('a'.repeat(200_000)),
      );
      expect(put.method).toBe('PUT');
      expect(put.body).toBe('a'.repeat(200_000));
      expect(put.headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);
    });
  });

  describe("the client's credentials never reach the upstream", () => {
    it('Authorization and Proxy-Authorization are removed whatever the key location', async () => {
      const url = await gateway([backend({ key: { value: BACKEND_KEY, location: X_API_KEY } })]);
      const received = await forwarded(
        request(url)
          .get('/v1')
          .set('Authorization', `Bearer ${CLIENT_TOKEN}`)
          .set('Proxy-Authorization', basicHeader('proxyuser', 'proxy-secret-pw')),
      );
      expect(received.headers['x-api-key']).toBe(BACKEND_KEY);
      expect(received.headers.authorization).toBeUndefined();
      expect(received.headers['proxy-authorization']).toBeUndefined();
      expect(rawValues(received, 'authorization')).toEqual([]);
      expect(rawValues(received, 'proxy-authorization')).toEqual([]);
      expect(JSON.stringify(received)).not.toContain(CLIENT_TOKEN);
    });

    it('the x-api-key header apiKeyAuth read is absent upstream', async () => {
      const url = await gateway([
        apiKeyAuth({ location: X_API_KEY }),
        backend({ key: { value: BACKEND_KEY } }),
      ]);
      const received = await forwarded(request(url).get('/v1').set('X-Api-Key', ALICE_KEY));
      expect(received.headers['x-api-key']).toBeUndefined();
      expect(received.headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);
      expect(JSON.stringify(received)).not.toContain(ALICE_KEY);
    });

    it('the query parameter apiKeyAuth read is absent upstream, other parameters stay', async () => {
      const url = await gateway([
        apiKeyAuth({ location: { queryParameter: { name: 'api_key' } } }),
        backend({ key: { value: BACKEND_KEY, location: X_API_KEY } }),
      ]);
      const received = await forwarded(request(url).get(`/v1?x=1&api_key=${ALICE_KEY}&y=2`));
      expect(received.url).toBe('/v1?x=1&y=2');
      expect(received.headers['x-api-key']).toBe(BACKEND_KEY);
    });

    it('an invalid API key let through by apiKeyAuth permissive is absent upstream', async () => {
      const url = await gateway([
        apiKeyAuth({ location: { queryParameter: { name: 'api_key' } }, mode: 'permissive' }),
        backend({ key: { value: BACKEND_KEY } }),
      ]);
      const received = await forwarded(request(url).get(`/v1?api_key=${UNKNOWN_KEY}&keep=me`));
      expect(received.url).toBe('/v1?keep=me');
      expect(JSON.stringify(received)).not.toContain(UNKNOWN_KEY);
    });

    it('anyAuth(apiKeyAuth, jwtAuth): the JWT wins and the invalid API key header is absent upstream', async () => {
      const url = await gateway([
        made(lib.anyAuth(apiKeyAuth({ location: X_API_KEY }), jwtAuth())),
        backend({ passthrough: {} }),
      ]);
      const received = await forwarded(
        request(url).get('/v1').set('Authorization', `Bearer ${validJwt}`).set('X-Api-Key', UNKNOWN_KEY),
      );
      // The passthrough forwarding the JWT shows that the JWT won.
      expect(received.headers.authorization).toBe(`Bearer ${validJwt}`);
      expect(received.headers['x-api-key']).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(UNKNOWN_KEY);
    });

    // The JWT is the first member, so anyAuth settles on it without the API key member ever
    // looking at X-Api-Key; a valid key sent beside the winning JWT must still not be forwarded.
    it('anyAuth(jwtAuth, apiKeyAuth): the JWT wins and the valid API key header is absent upstream', async () => {
      const url = await gateway([
        made(lib.anyAuth(jwtAuth(), apiKeyAuth({ location: X_API_KEY }))),
        backend({ key: { value: BACKEND_KEY, location: { header: { name: 'x-backend-key' } } } }),
      ]);
      const received = await forwarded(
        request(url).get('/v1').set('Authorization', `Bearer ${validJwt}`).set('X-Api-Key', ALICE_KEY),
      );
      expect(received.headers['x-backend-key']).toBe(BACKEND_KEY);
      expect(received.headers['x-api-key']).toBeUndefined();
      expect(received.headers.authorization).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(ALICE_KEY);
      expect(JSON.stringify(received)).not.toContain(validJwt);
    });

    it('anyAuth(apiKeyAuth, jwtAuth) with both valid: the API key wins, neither credential is forwarded', async () => {
      const url = await gateway([
        made(lib.anyAuth(apiKeyAuth({ location: X_API_KEY }), jwtAuth())),
        backend({ passthrough: {} }),
      ]);
      const received = await forwarded(
        request(url).get('/v1').set('Authorization', `Bearer ${validJwt}`).set('X-Api-Key', ALICE_KEY),
      );
      // The JWT did not authenticate this request, so a passthrough has nothing to forward.
      expect(received.headers.authorization).toBeUndefined();
      expect(received.headers['x-api-key']).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(ALICE_KEY);
      expect(JSON.stringify(received)).not.toContain(validJwt);
    });

    it('jwtAuth permissive: an invalid token in Authorization does not reach the upstream', async () => {
      const url = await gateway([
        jwtAuth({ mode: 'permissive' }),
        backend({ key: { value: BACKEND_KEY, location: X_API_KEY } }),
      ]);
      const received = await forwarded(request(url).get('/v1').set('Authorization', `Bearer ${forgedJwt}`));
      expect(received.headers.authorization).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(forgedJwt);
    });

    it('jwtAuth permissive: an invalid token in a query parameter does not reach the upstream', async () => {
      const url = await gateway([
        jwtAuth({ mode: 'permissive', location: { queryParameter: { name: 'access_token' } } }),
        backend({ key: { value: BACKEND_KEY } }),
      ]);
      const received = await forwarded(request(url).get(`/v1?access_token=${forgedJwt}&page=3`));
      expect(received.url).toBe('/v1?page=3');
      expect(received.headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);
      expect(JSON.stringify(received)).not.toContain(forgedJwt);
    });

    it('on a public path of apiKeyAuth, the key the client sent there is still not forwarded', async () => {
      const url = await gateway([
        apiKeyAuth({ location: { header: { name: 'x-api-key' } }, publicPaths: ['/v1/models'] }),
        backend({ key: { value: BACKEND_KEY } }),
      ]);
      const received = await forwarded(request(url).get('/v1/models').set('x-api-key', ALICE_KEY));
      expect(received.headers['x-api-key']).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(ALICE_KEY);
    });

    it('Connection: authorization cannot make the forwarder drop the backend credential', async () => {
      const url = await gateway([backend({ key: { value: BACKEND_KEY } })]);
      const received = await forwarded(
        request(url)
          .get('/v1')
          .set('Connection', 'keep-alive, authorization, x-hop')
          .set('x-hop', 'client-hop'),
      );
      expect(rawValues(received, 'authorization')).toEqual([`Bearer ${BACKEND_KEY}`]);
      expect(received.headers['x-hop']).toBeUndefined();
    });

    it('strip: [{ cookie: { name: "session" } }] removes that cookie and keeps the others', async () => {
      const url = await gateway([
        backend({ key: { value: BACKEND_KEY }, strip: [{ cookie: { name: 'session' } }] }),
      ]);
      const received = await forwarded(
        request(url).get('/v1').set('Cookie', `theme=dark; session=${CLIENT_TOKEN}; lang=en`),
      );
      expect(cookiesOf(received)).toEqual(['theme=dark', 'lang=en']);
      expect(JSON.stringify(received)).not.toContain(CLIENT_TOKEN);
    });

    it('strip: a session cookie that is the only cookie leaves no Cookie header', async () => {
      const url = await gateway([
        backend({ key: { value: BACKEND_KEY }, strip: [{ cookie: { name: 'session' } }] }),
      ]);
      const received = await forwarded(request(url).get('/v1').set('Cookie', `session=${CLIENT_TOKEN}`));
      expect(received.headers.cookie).toBeUndefined();
    });

    it('strip: extra header and query locations are removed too', async () => {
      const url = await gateway([
        backend({
          key: { value: BACKEND_KEY },
          strip: [{ header: { name: 'x-session-token' } }, { queryParameter: { name: 'sig' } }],
        }),
      ]);
      const received = await forwarded(
        request(url).get(`/v1?sig=${CLIENT_TOKEN}&a=1`).set('X-Session-Token', CLIENT_TOKEN),
      );
      expect(received.url).toBe('/v1?a=1');
      expect(received.headers['x-session-token']).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(CLIENT_TOKEN);
    });
  });

  describe('presets', () => {
    it('anthropic: x-api-key and the default anthropic-version, no Authorization', async () => {
      const url = await gateway([backend({ anthropic: { apiKey: BACKEND_KEY } })]);
      const received = await forwarded(
        request(url)
          .post('/v1/messages')
          .set('Authorization', `Bearer ${CLIENT_TOKEN}`)
          .set('X-Api-Key', 'client-sent-key')
          .send({ max_tokens: 5 }),
      );
      expect(rawValues(received, 'x-api-key')).toEqual([BACKEND_KEY]);
      expect(rawValues(received, 'anthropic-version')).toEqual(['2023-06-01']);
      expect(received.headers.authorization).toBeUndefined();
      expect(JSON.parse(received.body)).toEqual({ max_tokens: 5 });
    });

    it('anthropic: the anthropic-version the client sent is kept', async () => {
      const url = await gateway([backend({ anthropic: { apiKey: BACKEND_KEY } })]);
      const received = await forwarded(request(url).get('/v1/models').set('Anthropic-Version', '2024-10-22'));
      expect(rawValues(received, 'anthropic-version')).toEqual(['2024-10-22']);
      expect(received.headers['x-api-key']).toBe(BACKEND_KEY);
    });

    it('anthropic: a configured version is the default', async () => {
      const url = await gateway([backend({ anthropic: { apiKey: BACKEND_KEY, version: '2024-01-01' } })]);
      const received = await forwarded(request(url).get('/v1/models'));
      expect(rawValues(received, 'anthropic-version')).toEqual(['2024-01-01']);
    });

    it('azureOpenAI: the api-key header, replacing the client one, no Authorization', async () => {
      const url = await gateway([backend({ azureOpenAI: { apiKey: BACKEND_KEY } })]);
      const received = await forwarded(
        request(url)
          .get('/openai/deployments?api-version=2024-02-01')
          .set('Api-Key', 'client-sent-key')
          .set('Authorization', `Bearer ${CLIENT_TOKEN}`),
      );
      expect(rawValues(received, 'api-key')).toEqual([BACKEND_KEY]);
      expect(received.headers.authorization).toBeUndefined();
      expect(received.url).toBe('/openai/deployments?api-version=2024-02-01');
    });

    it('openai: Authorization: Bearer <apiKey>', async () => {
      const url = await gateway([backend({ openai: { apiKey: BACKEND_KEY } })]);
      const received = await forwarded(
        request(url).get('/v1/models').set('Authorization', `Bearer ${CLIENT_TOKEN}`),
      );
      expect(rawValues(received, 'authorization')).toEqual([`Bearer ${BACKEND_KEY}`]);
    });

    it('presets take secret references too', async () => {
      const url = await gateway([backend({ openai: { apiKey: `$${ENV.key}` } })]);
      const received = await forwarded(request(url).get('/v1/models'));
      expect(received.headers.authorization).toBe(`Bearer ${process.env[ENV.key]}`);
    });
  });

  describe('passthrough', () => {
    it('forwards the token jwtAuth validated at Authorization: Bearer', async () => {
      const url = await gateway([jwtAuth(), backend({ passthrough: {} })]);
      const received = await forwarded(request(url).get('/v1').set('Authorization', `Bearer ${validJwt}`));
      expect(rawValues(received, 'authorization')).toEqual([`Bearer ${validJwt}`]);
    });

    it('passthrough: true is short for passthrough: {}', async () => {
      const url = await gateway([jwtAuth(), backend({ passthrough: true })]);
      const received = await forwarded(request(url).get('/v1').set('Authorization', `Bearer ${validJwt}`));
      expect(rawValues(received, 'authorization')).toEqual([`Bearer ${validJwt}`]);
    });

    it('forwards it at a custom header, and no Authorization', async () => {
      const url = await gateway([
        jwtAuth(),
        backend({ passthrough: { location: { header: { name: 'x-forwarded-token' } } } }),
      ]);
      const received = await forwarded(request(url).get('/v1').set('Authorization', `Bearer ${validJwt}`));
      expect(received.headers['x-forwarded-token']).toBe(validJwt);
      expect(received.headers.authorization).toBeUndefined();
    });

    it('forwards it at a query parameter', async () => {
      const url = await gateway([
        jwtAuth(),
        backend({ passthrough: { location: { queryParameter: { name: 'token' } } } }),
      ]);
      const received = await forwarded(
        request(url).get('/v1?a=1').set('Authorization', `Bearer ${validJwt}`),
      );
      expect(queryOf(received).getAll('token')).toEqual([validJwt]);
      expect(queryOf(received).get('a')).toBe('1');
      expect(received.headers.authorization).toBeUndefined();
    });

    it('moves a token read from a query parameter to Authorization', async () => {
      const url = await gateway([
        jwtAuth({ location: { queryParameter: { name: 'access_token' } } }),
        backend({ passthrough: {} }),
      ]);
      const received = await forwarded(request(url).get(`/v1?access_token=${validJwt}&b=2`));
      expect(received.url).toBe('/v1?b=2');
      expect(received.headers.authorization).toBe(`Bearer ${validJwt}`);
    });

    it('sends nothing when no JWT was validated (jwtAuth optional, no token)', async () => {
      const url = await gateway([jwtAuth({ mode: 'optional' }), backend({ passthrough: {} })]);
      const received = await forwarded(request(url).get('/v1'));
      expect(received.headers.authorization).toBeUndefined();
    });

    it('sends nothing, and drops the token, when jwtAuth permissive let an invalid one through', async () => {
      const url = await gateway([jwtAuth({ mode: 'permissive' }), backend({ passthrough: {} })]);
      const received = await forwarded(request(url).get('/v1').set('Authorization', `Bearer ${forgedJwt}`));
      expect(received.headers.authorization).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(forgedJwt);
    });

    it('never forwards the credential of a custom scheme that calls itself jwt', async () => {
      const custom = made(
        lib.customAuth(
          { authenticate: async () => lib.AuthResult.ok({ subject: 'svc', method: 'jwt' }) },
          { location: { header: { name: 'x-api-key' } } },
        ),
      );
      const url = await gateway([custom, backend({ passthrough: {} })]);
      const received = await forwarded(request(url).get('/v1').set('x-api-key', ALICE_KEY));
      expect(received.headers.authorization).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(ALICE_KEY);
    });

    it('never forwards a Basic password another scheme authenticated', async () => {
      const url = await gateway([
        jwtAuth({ mode: 'optional' }),
        made(lib.basicAuth({ htpasswd: `alice:${sha(ALICE_PASSWORD)}\n` })),
        backend({ passthrough: {} }),
      ]);
      const header = basicHeader('alice', ALICE_PASSWORD);
      const received = await forwarded(request(url).get('/v1').set('Authorization', header));
      expect(received.headers.authorization).toBeUndefined();
      const seen = JSON.stringify(received);
      expect(seen).not.toContain(ALICE_PASSWORD);
      expect(seen).not.toContain(header.slice('Basic '.length));
    });

    it('never forwards an API key that apiKeyAuth authenticated from Authorization: Bearer', async () => {
      const url = await gateway([apiKeyAuth(), backend({ passthrough: {} })]);
      const received = await forwarded(request(url).get('/v1').set('Authorization', `Bearer ${ALICE_KEY}`));
      expect(received.headers.authorization).toBeUndefined();
      expect(JSON.stringify(received)).not.toContain(ALICE_KEY);
    });

    it('with jwtAuth and apiKeyAuth both satisfied, forwards the JWT and never the API key', async () => {
      const url = await gateway([
        jwtAuth(),
        apiKeyAuth({ location: X_API_KEY }),
        backend({ passthrough: {} }),
      ]);
      const received = await forwarded(
        request(url).get('/v1').set('Authorization', `Bearer ${validJwt}`).set('X-Api-Key', ALICE_KEY),
      );
      expect(received.headers.authorization).toBe(`Bearer ${validJwt}`);
      expect(JSON.stringify(received)).not.toContain(ALICE_KEY);
    });
  });

  describe('secret references', () => {
    const sentKey = async (value: unknown): Promise<string | undefined> => {
      const url = await gateway([backend({ key: { value: value as string, location: X_API_KEY } })]);
      const received = await forwarded(request(url).get('/v1'));
      return received.headers['x-api-key'] as string | undefined;
    };

    it('$VAR', async () => {
      expect(await sentKey(`$${ENV.key}`)).toBe(process.env[ENV.key]);
    });
    it(`\${VAR}`, async () => {
      expect(await sentKey(`\${${ENV.key}}`)).toBe(process.env[ENV.key]);
    });
    it(`\${VAR:-default} with VAR unset: the default`, async () => {
      expect(await sentKey(`\${${ENV.unset}:-sk-default-99}`)).toBe('sk-default-99');
    });
    it(`\${VAR:-default} with VAR empty: the default, as in a shell`, async () => {
      expect(await sentKey(`\${${ENV.empty}:-sk-default-98}`)).toBe('sk-default-98');
    });
    it(`\${VAR:-default} with VAR set: the variable`, async () => {
      expect(await sentKey(`\${${ENV.other}:-sk-default-97}`)).toBe(process.env[ENV.other]);
    });
    it('{ env: VAR }', async () => {
      expect(await sentKey({ env: ENV.other })).toBe(process.env[ENV.other]);
    });
    it.each(['sk-live$NOT_A_REFERENCE', `prefix-$${ENV.key}`, 'pa$$word'])(
      'a literal with a $ inside is sent as is: %s',
      async (literal) => {
        expect(await sentKey(literal)).toBe(literal);
      },
    );

    it('$$ escapes a literal leading $', async () => {
      expect(await sentKey('$$not-a-reference')).toBe('$not-a-reference');
    });

    it.each([`$${ENV.key}-suffix`, `\${${ENV.key}}tail`, `\${${ENV.key}`, `\${X:=y}`])(
      'a value that starts with $ but is no reference is refused at creation (a typo): %s',
      (typo) => {
        const error = startupError({ key: { value: typo } });
        expect(error.message).toContain('`key.value`');
        expect(error.message).toContain('not a reference');
      },
    );

    it('an unset $VAR without default is refused at creation, naming the field and the variable', () => {
      const cases: [unknown, string][] = [
        [`$${ENV.unset}`, ENV.unset],
        [`\${${ENV.unset}}`, ENV.unset],
        [{ env: ENV.unset }, ENV.unset],
        [`$${ENV.empty}`, ENV.empty],
      ];
      for (const [value, variable] of cases) {
        const error = startupError({ key: { value } });
        expect(error.message).toContain('`key.value`');
        expect(error.message).toContain(variable);
      }
      const preset = startupError({ anthropic: { apiKey: `$${ENV.unset}` } });
      expect(preset.message).toContain('anthropic.apiKey');
      expect(preset.message).toContain(ENV.unset);
    });
  });

  describe('{ file } keys', () => {
    let counter = 0;
    const keyFile = async (text: string) => {
      const path = dir.file(`key-${framework.name}-${++counter}.txt`);
      await writeFile(path, text);
      return path;
    };
    /** Requests until the upstream receives `expected` at Authorization (bounded); whether it did. */
    const eventuallySends = (url: string, expected: string) =>
      eventually(async () => {
        const received = await forwarded(request(url).get('/v1'));
        return received.headers.authorization === `Bearer ${expected}`;
      });

    it('is trimmed, and a change on disk applies to the next requests without a restart', async () => {
      const path = await keyFile('  sk-file-one\n');
      const url = await gateway([backend({ key: { value: { file: path } } })]);
      expect((await forwarded(request(url).get('/v1'))).headers.authorization).toBe('Bearer sk-file-one');

      await writeFile(path, '\r\n\tsk-file-two \r\n');
      expect(await eventuallySends(url, 'sk-file-two')).toBe(true);
      expect((await forwarded(request(url).get('/v1'))).headers.authorization).toBe('Bearer sk-file-two');
    });

    it('a replace by rename (editors, Kubernetes) applies too, repeatedly', async () => {
      const path = await keyFile('sk-rename-one\n');
      const url = await gateway([backend({ key: { value: { file: path }, location: X_API_KEY } })]);
      const sendsKey = (expected: string) =>
        eventually(async () => (await forwarded(request(url).get('/v1'))).headers['x-api-key'] === expected);
      expect(await sendsKey('sk-rename-one')).toBe(true);
      await replaceByRename(path, 'sk-rename-two\n');
      expect(await sendsKey('sk-rename-two')).toBe(true);
      await replaceByRename(path, 'sk-rename-three');
      expect(await sendsKey('sk-rename-three')).toBe(true);
      expect((await forwarded(request(url).get('/v1'))).headers['x-api-key']).toBe('sk-rename-three');
    });

    it('a Kubernetes secret mount: the ..data symlink swapped to a new directory applies', async () => {
      // kubelet layout: mount/key -> ..data/key, ..data -> ..<timestamp>/; an update writes a
      // new timestamped directory and renames a fresh ..data symlink over the old one.
      const mount = dir.file(`mount-${framework.name}`);
      await mkdir(join(mount, '..v1'), { recursive: true });
      await writeFile(join(mount, '..v1', 'key'), 'sk-k8s-one\n');
      await symlink('..v1', join(mount, '..data'));
      await symlink(join('..data', 'key'), join(mount, 'key'));
      const url = await gateway([backend({ key: { value: { file: join(mount, 'key') } } })]);
      expect((await forwarded(request(url).get('/v1'))).headers.authorization).toBe('Bearer sk-k8s-one');

      await mkdir(join(mount, '..v2'));
      await writeFile(join(mount, '..v2', 'key'), 'sk-k8s-two\n');
      await symlink('..v2', join(mount, '..data_tmp'));
      await rename(join(mount, '..data_tmp'), join(mount, '..data'));
      await rm(join(mount, '..v1'), { recursive: true });
      expect(await eventuallySends(url, 'sk-k8s-two')).toBe(true);
    });

    it('a file that changes to an invalid value keeps the previous key, then takes a valid one', async () => {
      const path = await keyFile('sk-file-good\n');
      const logger = recorder();
      const url = await gateway([backend({ key: { value: { file: path } } }, logger)]);
      expect((await forwarded(request(url).get('/v1'))).headers.authorization).toBe('Bearer sk-file-good');

      await writeFile(path, 'sk-file-BADPART\ninjected: yes\n');
      expect(await eventually(() => logger.messages.some((m) => m.includes('control character')))).toBe(true);
      expect(logger.messages.join('\n')).not.toContain('BADPART');
      const kept = await forwarded(request(url).get('/v1'));
      expect(rawValues(kept, 'authorization')).toEqual(['Bearer sk-file-good']);
      expect(kept.headers.injected).toBeUndefined();

      await writeFile(path, 'sk-file-next\n');
      expect(await eventuallySends(url, 'sk-file-next')).toBe(true);
    });

    it('a file that empties keeps the previous key', async () => {
      const path = await keyFile('sk-file-stays\n');
      const logger = recorder();
      const url = await gateway([backend({ key: { value: { file: path } } }, logger)]);
      await writeFile(path, '  \n');
      expect(await eventually(() => logger.messages.some((m) => m.includes('is empty')))).toBe(true);
      expect((await forwarded(request(url).get('/v1'))).headers.authorization).toBe('Bearer sk-file-stays');
    });

    it('a missing file is refused at creation, naming the field', () => {
      const error = startupError({ key: { value: { file: dir.file('does-not-exist.txt') } } });
      expect(error.message).toContain('key.value.file');
    });
  });

  describe('secrets that cannot be sent are refused at creation', () => {
    const BAD = [
      { what: 'CR LF', value: 'sk-inline-SECRETPART\r\nx-injected: 1' },
      { what: 'LF', value: 'sk-inline-SECRETPART\nmore' },
      { what: 'CR', value: 'sk-inline-SECRETPART\rmore' },
      { what: 'NUL', value: 'sk-inline-SECRETPART\u0000more' },
      { what: 'a control character', value: 'sk-inline-SECRETPART\u0007more' },
      { what: 'DEL', value: 'sk-inline-SECRETPART\u007fmore' },
      { what: 'a non-Latin-1 character', value: 'sk-inline-SECRETPART€more' },
      { what: 'an emoji', value: 'sk-inline-SECRETPART🔑' },
      // Sent as one raw byte, which an upstream reading UTF-8 takes for another text.
      { what: 'a Latin-1 letter', value: 'sk-inline-SECRETPARTclé' },
      { what: 'a tab', value: 'sk-inline-SECRETPART\tmore' },
      { what: 'NEL (U+0085, a C1 control)', value: 'sk-inline-SECRETPART\u0085more' },
      { what: 'another C1 control', value: 'sk-inline-SECRETPART\u009bmore' },
    ];

    it.each(BAD)('inline with $what', ({ value }) => {
      for (const [options, field] of [
        [{ key: { value } }, 'key.value'],
        [{ openai: { apiKey: value } }, 'openai.apiKey'],
        [{ anthropic: { apiKey: value } }, 'anthropic.apiKey'],
        [{ azureOpenAI: { apiKey: value } }, 'azureOpenAI.apiKey'],
      ] as const) {
        const error = startupError(options);
        expect(error.message).toContain(`\`${field}\``);
        expect(error.message).not.toContain('SECRETPART');
      }
    });

    it.each(BAD)('in a file at start-up with $what', async ({ value }) => {
      const path = dir.file(`bad-${framework.name}-${Math.random().toString(36).slice(2)}.txt`);
      await writeFile(path, `${value}\n`);
      const error = startupError({ key: { value: { file: path } } });
      expect(error.message).toContain('key.value.file');
      expect(error.message).not.toContain('SECRETPART');
    });

    it(`from an environment variable, through $VAR, \${VAR:-default} and { env }`, () => {
      for (const value of [`$${ENV.crlf}`, `\${${ENV.crlf}:-fine}`, { env: ENV.crlf }]) {
        const error = startupError({ key: { value } });
        expect(error.message).toContain('key.value');
        expect(error.message).toContain(ENV.crlf);
        expect(error.message).not.toContain('SECRETPART');
      }
    });

    it('a default with a control character', () => {
      const error = startupError({ key: { value: `\${${ENV.unset}:-sk-default-SECRETPART\u0001}` } });
      expect(error.message).toContain('key.value');
      expect(error.message).not.toContain('SECRETPART');
    });

    it('an empty value', () => {
      expect(startupError({ key: { value: '' } }).message).toContain('key.value');
      expect(startupError({ openai: { apiKey: '' } }).message).toContain('openai.apiKey');
    });

    it('printable ASCII with spaces and symbols is fine and is sent as it is', async () => {
      const url = await gateway([
        backend({ key: { value: 'key with ~!"#%&()*+,;<=>?[]^`{|}', location: X_API_KEY } }),
      ]);
      const received = await forwarded(request(url).get('/v1'));
      expect(rawValues(received, 'x-api-key')).toEqual(['key with ~!"#%&()*+,;<=>?[]^`{|}']);
    });
  });

  describe('options refused at creation', () => {
    it.each([
      { what: 'no kind', options: {}, names: ['backendAuth', 'exactly one'] },
      { what: 'only common options', options: { strip: [] }, names: ['backendAuth', 'exactly one'] },
      {
        what: 'two kinds',
        options: { key: { value: BACKEND_KEY }, openai: { apiKey: BACKEND_KEY } },
        names: ['key / openai', 'exactly one'],
      },
      { what: 'key neither a string nor an object', options: { key: 42 }, names: ['`key`'] },
      { what: 'key.value missing', options: { key: {} }, names: ['`key.value`'] },
      { what: 'key.value a number', options: { key: { value: 42 } }, names: ['`key.value`'] },
      {
        what: 'a bad env name',
        options: { key: { value: { env: 'not a name' } } },
        names: ['`key.value.env`'],
      },
      {
        what: 'a header name with a space',
        options: { key: { value: BACKEND_KEY, location: { header: { name: 'bad name' } } } },
        names: ['`key.location.header.name`'],
      },
      {
        what: 'an empty header prefix',
        options: { key: { value: BACKEND_KEY, location: { header: { name: 'x-key', prefix: ' ' } } } },
        names: ['`key.location.header.prefix`'],
      },
      {
        what: 'a header prefix with CR/LF in it',
        options: {
          key: {
            value: BACKEND_KEY,
            location: { header: { name: 'x-key', prefix: 'Tok\r\nX-Injected: 1\r\nA: ' } },
          },
        },
        names: ['`key.location.header.prefix`'],
      },
      {
        what: 'a header prefix outside Latin-1',
        options: { key: { value: BACKEND_KEY, location: { header: { name: 'x-key', prefix: 'Bearer€ ' } } } },
        names: ['`key.location.header.prefix`'],
      },
      {
        what: 'a query parameter without name',
        options: { key: { value: BACKEND_KEY, location: { queryParameter: {} } } },
        names: ['`key.location.queryParameter.name`'],
      },
      {
        what: 'a cookie name with ;',
        options: { key: { value: BACKEND_KEY, location: { cookie: { name: 'a;b' } } } },
        names: ['`key.location.cookie.name`'],
      },
      {
        what: 'an unknown location',
        options: { key: { value: BACKEND_KEY, location: { body: { name: 'x' } } } },
        names: ['`key.location.body`'],
      },
      {
        what: 'two locations at once',
        options: { key: { value: BACKEND_KEY, location: { header: { name: 'a' }, cookie: { name: 'b' } } } },
        names: ['`key.location`'],
      },
      {
        what: 'a location string',
        options: { key: { value: BACKEND_KEY, location: 'header' } },
        names: ['`key.location`'],
      },
      {
        what: 'a bad passthrough location',
        options: { passthrough: { location: { header: { name: '' } } } },
        names: ['`passthrough.location.header.name`'],
      },
      {
        what: 'passthrough neither true nor an object',
        options: { passthrough: 'yes' },
        names: ['`passthrough`'],
      },
      { what: 'a preset without apiKey', options: { openai: {} }, names: ['`openai.apiKey`'] },
      { what: 'azureOpenAI without apiKey', options: { azureOpenAI: null }, names: ['`azureOpenAI.apiKey`'] },
      {
        what: 'a bad anthropic version',
        options: { anthropic: { apiKey: BACKEND_KEY, version: 'latest' } },
        names: ['`anthropic.version`'],
      },
      {
        what: 'upstream not a URL',
        options: { key: { value: BACKEND_KEY }, upstream: 'not a url' },
        names: ['`upstream`'],
      },
      {
        what: 'upstream not http(s)',
        options: { key: { value: BACKEND_KEY }, upstream: 'ftp://files.example.com/' },
        names: ['`upstream`'],
      },
      {
        what: 'upstream a relative path',
        options: { key: { value: BACKEND_KEY }, upstream: '/v1' },
        names: ['`upstream`'],
      },
      {
        what: 'upstream a number',
        options: { key: { value: BACKEND_KEY }, upstream: 8080 },
        names: ['`upstream`'],
      },
      {
        what: 'strip not an array',
        options: { key: { value: BACKEND_KEY }, strip: { cookie: { name: 's' } } },
        names: ['`strip`'],
      },
      {
        what: 'a bad strip location',
        options: { key: { value: BACKEND_KEY }, strip: [{ cookie: { name: 'ok' } }, { header: {} }] },
        names: ['`strip[1].header.name`'],
      },
      {
        what: 'a bad maxBodyBytes',
        options: { key: { value: BACKEND_KEY }, maxBodyBytes: -1 },
        names: ['`maxBodyBytes`'],
      },
    ])('$what', ({ options, names }) => {
      const error = startupError(options);
      for (const name of names) expect(error.message).toContain(name);
      expect(error.message).not.toContain(BACKEND_KEY);
    });

    it('refuses a non-object', () => {
      expect(startupError(undefined).message).toContain('backendAuth');
    });

    it('accepts an http(s) upstream URL, a URL object and a function', async () => {
      for (const upstream of [up.url, new URL(up.url), () => up.url]) {
        const url = await gateway([backend({ key: { value: BACKEND_KEY }, upstream })]);
        const received = await forwarded(request(url).get('/v1'));
        expect(received.headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);
      }
    });
  });

  describe('failures', () => {
    const failing = () =>
      backend({
        key: { value: BACKEND_KEY },
        upstream: () => {
          throw new Error('no upstream for you');
        },
      });

    it('an upstream function that fails answers 502 backend_credentials_failed and forwards nothing', async () => {
      const url = await gateway([failing()]);
      const before = up.received.length;
      const res = await request(url).get('/v1').set('Authorization', `Bearer ${CLIENT_TOKEN}`);
      expect(res.status).toBe(502);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        error: 'backend_credentials_failed',
        error_description: expect.any(String),
      });
      expect(res.text).not.toContain(BACKEND_KEY);
      expect(up.received.length).toBe(before);
    });

    it('delegateErrors hands the AuthError to the app error handler', async () => {
      const mw = made(
        lib.backendAuth({
          key: { value: BACKEND_KEY },
          upstream: () => 'not a url',
          delegateErrors: true,
          logger: recorder(),
        }),
      );
      const url = await gateway([mw], true);
      const before = up.received.length;
      const res = await request(url).get('/v1');
      expect(res.status).toBe(502);
      expect(res.body).toEqual({ handledBy: 'app', code: 'backend_credentials_failed' });
      expect(up.received.length).toBe(before);
    });
  });

  describe('.apply() inside an app route', () => {
    // A route after the inbound middlewares that builds its own upstream request with the
    // middleware's apply(), handing it the request's Auth and the incoming request, and sends
    // it with fetch. Written once per framework: that is what an app would do.
    const applyRoute = (mw: {
      apply(request: OutgoingRequest, context?: ApplyContext): Promise<PreparedRequest>;
    }): unknown => {
      const send = async (incoming: IncomingMessage, auth: Auth | undefined) => {
        // The route keeps the query and headers the app saw after the inbound middlewares.
        const target = incoming.url ?? '/';
        const query = target.includes('?') ? target.slice(target.indexOf('?')) : '';
        const prepared = await mw.apply(
          { method: 'GET', url: `${up.url}/via-apply${query}`, headers: { ...incoming.headers } },
          { auth, incoming },
        );
        const answer = await fetch(prepared.url, prepared);
        return { status: answer.status, prepared };
      };
      if (framework.name.startsWith('express')) {
        return (
          req: IncomingMessage & { auth?: Auth },
          res: ServerResponse,
          next: (error?: unknown) => void,
        ) => {
          send(req, req.auth).then(({ status, prepared }) => {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ status, headers: prepared.headers, url: prepared.url }));
          }, next);
        };
      }
      return async (ctx: { req: IncomingMessage; state: { auth?: Auth }; body: unknown }) => {
        const { status, prepared } = await send(ctx.req, ctx.state.auth);
        ctx.body = { status, headers: prepared.headers, url: prepared.url };
      };
    };

    it('passthrough: apply() forwards the validated JWT and strips what the inbound schemes read', async () => {
      const mw = backend({ passthrough: {} });
      const url = await gateway([
        jwtAuth(),
        apiKeyAuth({ location: { queryParameter: { name: 'api_key' } }, mode: 'permissive' }),
        applyRoute(mw),
      ]);
      const res = await request(url)
        .get(`/anything?api_key=${UNKNOWN_KEY}&keep=1`)
        .set('Authorization', `Bearer ${validJwt}`)
        .set('Proxy-Authorization', basicHeader('p', 'proxy-pw'))
        .set('X-Trace', 'trace-1');
      expect(res.status, res.text).toBe(200);
      expect(res.body.status).toBe(200);
      const received = up.last();
      expect(received.url).toBe('/via-apply?keep=1');
      expect(received.headers.authorization).toBe(`Bearer ${validJwt}`);
      expect(received.headers['proxy-authorization']).toBeUndefined();
      expect(received.headers['x-trace']).toBe('trace-1');
      expect(JSON.stringify(received)).not.toContain(UNKNOWN_KEY);
      expect(res.body.headers.host).toBeUndefined();
    });

    it('passthrough: apply() without a validated JWT sends no Authorization', async () => {
      const mw = backend({ passthrough: {} });
      const url = await gateway([jwtAuth({ mode: 'optional' }), applyRoute(mw)]);
      const res = await request(url).get('/anything').set('Authorization', basicHeader('a', 'b-password'));
      expect(res.status, res.text).toBe(200);
      const received = up.last();
      expect(received.url).toBe('/via-apply');
      expect(received.headers.authorization).toBeUndefined();
    });

    it('key: apply() through the middleware writes the key and strips a read API key header', async () => {
      const mw = backend({ key: { value: BACKEND_KEY, location: { header: { name: 'x-backend' } } } });
      const url = await gateway([apiKeyAuth({ location: X_API_KEY, mode: 'permissive' }), applyRoute(mw)]);
      const res = await request(url).get('/x').set('X-Api-Key', UNKNOWN_KEY);
      expect(res.status, res.text).toBe(200);
      const received = up.last();
      expect(received.headers['x-backend']).toBe(BACKEND_KEY);
      expect(received.headers['x-api-key']).toBeUndefined();
    });
  });
});

describe('backendCredentials (core) apply()', () => {
  let up: RecordingUpstream;
  const closers: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    up = await startRecordingUpstream();
  });
  afterAll(async () => {
    await up.close();
  });
  afterEach(async () => {
    for (const closer of closers.splice(0)) await closer.close();
  });
  const credentials = (options: BackendAuthOptions) => {
    const made = backendCredentials({ logger: recorder(), ...options } as BackendAuthOptions);
    closers.push(made);
    return made;
  };

  it('drops the client credentials, hop-by-hop fields, host and content-length, and adds the key', async () => {
    const body = JSON.stringify({ prompt: 'hi', n: 1 });
    const prepared = await credentials({ key: { value: BACKEND_KEY } }).apply({
      method: 'post',
      url: `${up.url}/v1/chat?x=1`,
      headers: {
        Authorization: `Bearer ${CLIENT_TOKEN}`,
        'Proxy-Authorization': basicHeader('u', 'proxy-pw'),
        Host: 'client.example.com',
        'Content-Length': '9999',
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'hop-value',
        'Keep-Alive': 'timeout=5',
        'Transfer-Encoding': 'chunked',
        TE: 'trailers',
        Trailer: 'x-checksum',
        Upgrade: 'h2c',
        'Proxy-Connection': 'keep-alive',
        Expect: '100-continue',
        'Content-Type': 'application/json',
        'X-Trace': ['a', 'b'],
      },
      body,
    });
    expect(prepared.method).toBe('POST');
    expect(prepared.url).toBe(`${up.url}/v1/chat?x=1`);
    expect(prepared.headers).toEqual({
      'content-type': 'application/json',
      'x-trace': 'a, b',
      authorization: `Bearer ${BACKEND_KEY}`,
    });
    expect(prepared.body).toBe(body);

    const answer = await fetch(prepared.url, prepared);
    expect(answer.status).toBe(200);
    const received = up.last();
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/v1/chat?x=1');
    expect(received.body).toBe(body);
    expect(rawValues(received, 'authorization')).toEqual([`Bearer ${BACKEND_KEY}`]);
    expect(received.headers['proxy-authorization']).toBeUndefined();
    expect(received.headers['x-hop']).toBeUndefined();
    expect(received.headers.host).toBe(new URL(up.url).host);
    expect(received.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(JSON.stringify(received)).not.toContain(CLIENT_TOKEN);
  });

  it('takes Headers and entry lists, a query location, and a Uint8Array body', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const api = credentials({ key: { value: BACKEND_KEY, location: { queryParameter: { name: 'key' } } } });
    const fromHeaders = await api.apply({
      method: 'PUT',
      url: `${up.url}/blob?key=${CLIENT_TOKEN}&v=2`,
      headers: new Headers({
        authorization: `Bearer ${CLIENT_TOKEN}`,
        'content-type': 'application/octet-stream',
      }),
      body: bytes,
    });
    expect(fromHeaders.headers).toEqual({ 'content-type': 'application/octet-stream' });
    expect(new URL(fromHeaders.url).searchParams.getAll('key')).toEqual([BACKEND_KEY]);
    expect(new URL(fromHeaders.url).searchParams.get('v')).toBe('2');
    await fetch(fromHeaders.url, fromHeaders);
    const received = up.last();
    expect(received.method).toBe('PUT');
    expect(received.headers['content-length']).toBe(String(bytes.length));
    expect(received.body.startsWith('\u0000\u0001\u0002')).toBe(true);
    expect(queryOf(received).getAll('key')).toEqual([BACKEND_KEY]);
    expect(received.url).not.toContain(CLIENT_TOKEN);

    const fromEntries = await credentials({ azureOpenAI: { apiKey: BACKEND_KEY } }).apply({
      url: new URL(`${up.url}/deployments`),
      headers: [
        ['api-key', 'client-key'],
        ['x-one', '1'],
      ],
    });
    expect(fromEntries.method).toBe('GET');
    expect(fromEntries.headers).toEqual({ 'api-key': BACKEND_KEY, 'x-one': '1' });
    expect(fromEntries.body).toBeUndefined();
  });

  it('anthropic: the client anthropic-version is kept, else the default is added', async () => {
    const api = credentials({ anthropic: { apiKey: BACKEND_KEY } });
    const plain = await api.apply({ url: `${up.url}/v1/messages` });
    expect(plain.headers).toEqual({ 'x-api-key': BACKEND_KEY, 'anthropic-version': '2023-06-01' });
    const own = await api.apply({
      url: `${up.url}/v1/messages`,
      headers: { 'anthropic-version': '2024-10-22' },
    });
    expect(own.headers).toEqual({ 'x-api-key': BACKEND_KEY, 'anthropic-version': '2024-10-22' });
  });

  it('passthrough without auth adds nothing; a relative URL is a TypeError', async () => {
    const api = credentials({ passthrough: {} });
    const prepared = await api.apply({
      url: `${up.url}/p`,
      headers: { authorization: `Bearer ${CLIENT_TOKEN}` },
    });
    expect(prepared.headers).toEqual({});
    await expect(api.apply({ url: '/relative' })).rejects.toThrow(TypeError);
  });

  it('refuses bad options with a ConfigError, like the middleware', () => {
    expect(() => backendCredentials({} as BackendAuthOptions)).toThrow(ConfigError);
    const error = thrown(() => backendCredentials({ key: { value: `$${ENV.unset}` } }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('key.value');
    expect(error.message).toContain(ENV.unset);
  });
});
