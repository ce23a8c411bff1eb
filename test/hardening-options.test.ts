import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editDistance, keysOf, unknownKeyProblem } from '../src/config/known-keys.js';
import type { ApiKeyRecord, AuthProvider, JwtAuthOptions } from '../src/index.js';
import { type TempDir, tempDir } from './support/files.js';
import { type AdapterModule, frameworks } from './support/frameworks.js';
import { ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';

// Issue 11, "Options that are silently wrong": every options object and record refuses keys it
// does not know (a ConfigError naming the key's full path and the option meant), conflicting
// forms are refused instead of resolved by a silent precedence, and the option sets the README
// shows still construct. Every factory is called through both adapters.

const all = await frameworks();

const API_KEY = 'ak_alice_5f0c1e9a7b3d4c2e8f61a0b9';
const BACKEND_KEY = 'sk-backend-7f3a9c2e1b4d6a8c';
const HMAC_SECRET = 'an-hmac-secret-of-at-least-32-bytes!!';
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const shaHtpasswd = (user: string, password: string) =>
  `${user}:{SHA}${createHash('sha1').update(password).digest('base64')}\n`;
const HTPASSWD = shaHtpasswd('alice', 'alice-password');

let key: TestKey;
let dir: TempDir;
let jwksFile: string;
let htpasswdFile: string;
let keysFile: string;
let secretFile: string;

beforeAll(async () => {
  key = await makeKey('RS256');
  dir = await tempDir();
  jwksFile = dir.file('jwks.json');
  htpasswdFile = dir.file('htpasswd');
  keysFile = dir.file('keys.json');
  secretFile = dir.file('backend-key');
  await writeFile(jwksFile, JSON.stringify(jwks(key)));
  await writeFile(htpasswdFile, HTPASSWD);
  await writeFile(keysFile, JSON.stringify([{ name: 'file-key', key: API_KEY, scopes: ['read'] }]));
  await writeFile(secretFile, `${BACKEND_KEY}\n`);
});

afterAll(async () => {
  await dir.remove();
});

/** Options as a configuration file or the environment would give them: unchecked by TypeScript. */
const loose = <T>(value: unknown): T => value as T;
const inline = () => ({ inline: jwks(key) });
const provider: AuthProvider = { authenticate: () => undefined as never };

type Closable = { close(): Promise<void> };

/** The error `make` throws; a middleware it made anyway is closed and the test fails. */
function refusal(make: () => unknown): Error {
  let made: unknown;
  try {
    made = make();
  } catch (error) {
    return error as Error;
  }
  void (made as Partial<Closable> | undefined)?.close?.();
  expect.fail('expected a ConfigError');
}

/** The hint part of the message: a name ("did you mean `x`?") or a sentence. */
function expectHint(message: string, hint: string | RegExp): void {
  if (typeof hint === 'string') expect(message).toContain(`did you mean \`${hint}\`?`);
  else expect(message).toMatch(hint);
}

interface TypoCase {
  what: string;
  make(lib: AdapterModule): unknown;
  /** The full path of the unknown key, as the message must name it. */
  field: string;
  hint: string | RegExp;
}

const TYPOS: TypoCase[] = [
  // jwtAuth: the issue's example, other libraries' spellings, case and snake_case slips.
  {
    what: 'jwtAuth audience (express-jwt and kin)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), audience: 'my-api' })),
    field: 'audience',
    hint: 'audiences',
  },
  {
    what: 'jwtAuth Audiences (case)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), Audiences: ['my-api'] })),
    field: 'Audiences',
    hint: 'audiences',
  },
  {
    what: 'jwtAuth audeinces (transposition)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), audeinces: ['my-api'] })),
    field: 'audeinces',
    hint: 'audiences',
  },
  {
    what: 'jwtAuth clock_skew_seconds (snake_case)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), clock_skew_seconds: 5 })),
    field: 'clock_skew_seconds',
    hint: 'clockSkewSeconds',
  },
  {
    what: 'jwtAuth algorithm',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), algorithm: 'RS256' })),
    field: 'algorithm',
    hint: 'algorithms',
  },
  {
    what: 'jwtAuth clockTolerance (jsonwebtoken)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), clockTolerance: 5 })),
    field: 'clockTolerance',
    hint: 'clockSkewSeconds',
  },
  {
    what: 'jwtAuth credentialsRequired (express-jwt)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), credentialsRequired: false })),
    field: 'credentialsRequired',
    hint: /use `mode`/,
  },
  {
    what: 'jwtAuth authRequired (express-oauth2-jwt-bearer)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), authRequired: false })),
    field: 'authRequired',
    hint: /use `mode`/,
  },
  {
    what: 'jwtAuth passthrough (koa-jwt)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), passthrough: true })),
    field: 'passthrough',
    hint: /use `mode`/,
  },
  {
    what: 'jwtAuth isRevoked (express-jwt, koa-jwt)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), isRevoked: () => false })),
    field: 'isRevoked',
    hint: /use `revocations`/,
  },
  {
    what: 'jwtAuth getToken',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), getToken: () => 'x' })),
    field: 'getToken',
    hint: /use `location`/,
  },
  {
    what: 'jwtAuth jwtFromRequest (passport-jwt)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), jwtFromRequest: () => 'x' })),
    field: 'jwtFromRequest',
    hint: /use `location`/,
  },
  {
    what: 'jwtAuth requestProperty',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), requestProperty: 'user' })),
    field: 'requestProperty',
    hint: /req\.auth/,
  },
  {
    what: 'jwtAuth issuerBaseURL (express-oauth2-jwt-bearer)',
    make: (lib) => lib.jwtAuth(loose({ issuerBaseURL: ISSUER, jwks: inline() })),
    field: 'issuerBaseURL',
    hint: 'issuer',
  },
  {
    what: 'jwtAuth jwksUri (jwks-rsa)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwksUri: 'https://issuer.test/jwks' })),
    field: 'jwksUri',
    hint: 'jwks: { url }',
  },
  {
    what: 'jwtAuth JWKS_URI (an environment-variable spelling)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, JWKS_URI: 'https://issuer.test/jwks' })),
    field: 'JWKS_URI',
    hint: 'jwks: { url }',
  },
  {
    what: 'jwtAuth constructor (a JSON key named like an Object.prototype member)',
    make: (lib) => lib.jwtAuth(JSON.parse(`{"issuer": "${ISSUER}", "constructor": {"prototype": {"x": 1}}}`)),
    field: 'constructor',
    hint: /its options are issuer, audiences/,
  },
  {
    what: 'jwtAuth secretOrKey (passport-jwt)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, secretOrKey: HMAC_SECRET })),
    field: 'secretOrKey',
    hint: /`secret`/,
  },
  {
    what: 'jwtAuth maxTokenLen (cut short)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), maxTokenLen: 100 })),
    field: 'maxTokenLen',
    hint: 'maxTokenLength',
  },
  {
    what: 'jwtAuth publicPath',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), publicPath: ['/health'] })),
    field: 'publicPath',
    hint: 'publicPaths',
  },
  {
    what: 'jwtAuth an unknown key whose value is undefined',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), audience: undefined })),
    field: 'audience',
    hint: 'audiences',
  },
  {
    what: 'jwtAuth cache.ttl',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), cache: { ttl: 60 } })),
    field: 'cache.ttl',
    hint: 'ttlSeconds',
  },
  {
    what: 'jwtAuth providers[1].audience',
    make: (lib) =>
      lib.jwtAuth(
        loose({
          providers: [
            { issuer: ISSUER, jwks: inline() },
            { issuer: 'https://other.test', jwks: inline(), audience: 'api' },
          ],
        }),
      ),
    field: 'providers[1].audience',
    hint: 'audiences',
  },
  {
    what: 'jwtAuth providers[0].mode (a top-level option)',
    make: (lib) => lib.jwtAuth(loose({ providers: [{ issuer: ISSUER, jwks: inline(), mode: 'optional' }] })),
    field: 'providers[0].mode',
    hint: /move it to the top/,
  },
  {
    what: 'jwtAuth providers[1].jwks.urll',
    make: (lib) =>
      lib.jwtAuth(
        loose({
          providers: [
            { issuer: ISSUER, jwks: inline() },
            { issuer: 'https://other.test', jwks: { urll: 'https://other.test/jwks' } },
          ],
        }),
      ),
    field: 'providers[1].jwks.urll',
    hint: 'url',
  },
  {
    what: 'jwtAuth jwks.audiences (one level too deep)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: { ...inline(), audiences: ['api'] } })),
    field: 'jwks.audiences',
    hint: /beside `jwks`, not inside it/,
  },
  {
    what: 'jwtAuth jwks.timeout',
    make: (lib) =>
      lib.jwtAuth(loose({ issuer: ISSUER, jwks: { url: 'https://issuer.test/jwks', timeout: 100 } })),
    field: 'jwks.timeout',
    hint: 'timeoutMs',
  },
  {
    what: 'jwtAuth jwks.timeoutMs on a file (applies to url only)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: { file: jwksFile, timeoutMs: 100 } })),
    field: 'jwks.timeoutMs',
    hint: /applies to `jwks: \{ url \}` only/,
  },
  {
    what: 'jwtAuth location.header.nam',
    make: (lib) =>
      lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), location: { header: { nam: 'x-token' } } })),
    field: 'location.header.nam',
    hint: 'name',
  },
  {
    what: 'jwtAuth location.header.scheme',
    make: (lib) =>
      lib.jwtAuth(
        loose({
          issuer: ISSUER,
          jwks: inline(),
          location: { header: { name: 'authorization', scheme: 'Bearer ' } },
        }),
      ),
    field: 'location.header.scheme',
    hint: 'prefix',
  },
  {
    what: 'jwtAuth location.query',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), location: { query: { name: 't' } } })),
    field: 'location.query',
    hint: 'queryParameter',
  },
  {
    what: 'jwtAuth location.cookie.names',
    make: (lib) =>
      lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), location: { cookie: { names: 's' } } })),
    field: 'location.cookie.names',
    hint: 'name',
  },
  // basicAuth
  {
    what: 'basicAuth htpasswd.path',
    make: (lib) => lib.basicAuth(loose({ htpasswd: { path: htpasswdFile } })),
    field: 'htpasswd.path',
    hint: 'file',
  },
  {
    what: 'basicAuth users (express-basic-auth)',
    make: (lib) => lib.basicAuth(loose({ htpasswd: HTPASSWD, users: { alice: 'pw' } })),
    field: 'users',
    hint: /`htpasswd`/,
  },
  {
    what: 'basicAuth realms',
    make: (lib) => lib.basicAuth(loose({ htpasswd: HTPASSWD, realms: 'Admin' })),
    field: 'realms',
    hint: 'realm',
  },
  {
    what: 'basicAuth allowWeakHash',
    make: (lib) => lib.basicAuth(loose({ htpasswd: HTPASSWD, allowWeakHash: true })),
    field: 'allowWeakHash',
    hint: 'allowWeakHashes',
  },
  {
    what: 'basicAuth cache.max',
    make: (lib) => lib.basicAuth(loose({ htpasswd: HTPASSWD, cache: { max: 10 } })),
    field: 'cache.max',
    hint: 'maxEntries',
  },
  {
    what: 'basicAuth location.header.prefx',
    make: (lib) =>
      lib.basicAuth(
        loose({ htpasswd: HTPASSWD, location: { header: { name: 'proxy-authorization', prefx: 'Basic ' } } }),
      ),
    field: 'location.header.prefx',
    hint: 'prefix',
  },
  // apiKeyAuth: the options, every record (inline, from a file, added at run time).
  {
    what: 'apiKeyAuth keys[0].scope (the issue example)',
    make: (lib) => lib.apiKeyAuth(loose({ keys: [{ name: 'ci', key: API_KEY, scope: ['read'] }] })),
    field: 'keys[0].scope',
    hint: 'scopes',
  },
  {
    what: 'apiKeyAuth keys[1].expires',
    make: (lib) =>
      lib.apiKeyAuth(
        loose({
          keys: [
            { name: 'a', key: API_KEY },
            { name: 'b', keyHash: `sha256:${sha256('another-key-123')}`, expires: '2030-01-01' },
          ],
        }),
      ),
    field: 'keys[1].expires',
    hint: 'expiresAt',
  },
  {
    what: 'apiKeyAuth keys[0].hash',
    make: (lib) => lib.apiKeyAuth(loose({ keys: [{ name: 'ci', hash: `sha256:${sha256(API_KEY)}` }] })),
    field: 'keys[0].hash',
    hint: 'keyHash',
  },
  {
    what: 'apiKeyAuth keys[0].disabled',
    make: (lib) => lib.apiKeyAuth(loose({ keys: [{ name: 'ci', key: API_KEY, disabled: true }] })),
    field: 'keys[0].disabled',
    hint: 'revoked',
  },
  {
    what: 'apiKeyAuth header (at the top)',
    make: (lib) => lib.apiKeyAuth(loose({ keys: [{ name: 'ci', key: API_KEY }], header: 'x-api-key' })),
    field: 'header',
    hint: 'location: { header: { name } }',
  },
  {
    what: 'apiKeyAuth keys.watch',
    make: (lib) => lib.apiKeyAuth(loose({ keys: { file: keysFile, watch: true } })),
    field: 'keys.watch',
    hint: /its options are file/,
  },
  {
    what: 'apiKeyAuth location.header.Name',
    make: (lib) =>
      lib.apiKeyAuth(
        loose({ keys: [{ name: 'ci', key: API_KEY }], location: { header: { Name: 'x-api-key' } } }),
      ),
    field: 'location.header.Name',
    hint: 'name',
  },
  // anyAuth, customAuth
  {
    what: 'anyAuth realm (a member option)',
    make: (lib) =>
      lib.anyAuth(lib.apiKeyAuth({ keys: [{ name: 'ci', key: API_KEY }] }), loose({ realm: 'x' })),
    field: 'realm',
    hint: /each member/,
  },
  {
    what: 'anyAuth delegateError',
    make: (lib) =>
      lib.anyAuth(lib.apiKeyAuth({ keys: [{ name: 'ci', key: API_KEY }] }), loose({ delegateError: true })),
    field: 'delegateError',
    hint: 'delegateErrors',
  },
  {
    what: 'customAuth locaton',
    make: (lib) => lib.customAuth(provider, loose({ locaton: { cookie: { name: 'sid' } } })),
    field: 'locaton',
    hint: 'location',
  },
  {
    what: 'customAuth authenticate in the options',
    make: (lib) => lib.customAuth(provider, loose({ authenticate: () => undefined })),
    field: 'authenticate',
    hint: /first argument/,
  },
  // authorize, forwardIdentity
  {
    what: 'authorize rule',
    make: (lib) => lib.authorize(loose({ rule: ['true'] })),
    field: 'rule',
    hint: 'rules',
  },
  {
    what: 'authorize defaultdeny',
    make: (lib) => lib.authorize(loose({ rules: ['true'], defaultdeny: true })),
    field: 'defaultdeny',
    hint: 'defaultDeny',
  },
  {
    what: 'authorize rules[1].alow',
    make: (lib) => lib.authorize(loose({ rules: ['true', { alow: 'true' }] })),
    field: 'rules[1].alow',
    hint: 'allow',
  },
  {
    what: 'authorize rules[0].when',
    make: (lib) => lib.authorize(loose({ rules: [{ when: 'true' }] })),
    field: 'rules[0].when',
    hint: /exactly one of \{ allow \}, \{ deny \}, \{ require \}/,
  },
  {
    what: 'forwardIdentity header',
    make: (lib) => lib.forwardIdentity(loose({ header: { 'x-user-id': 'auth.subject' } })),
    field: 'header',
    hint: 'headers',
  },
  // backendAuth, each kind and the objects inside them
  {
    what: 'backendAuth target',
    make: (lib) => lib.backendAuth(loose({ key: BACKEND_KEY, target: 'https://api.example.com' })),
    field: 'target',
    hint: 'upstream',
  },
  {
    what: 'backendAuth maxBodySize',
    make: (lib) => lib.backendAuth(loose({ key: BACKEND_KEY, maxBodySize: 10 })),
    field: 'maxBodySize',
    hint: 'maxBodyBytes',
  },
  {
    what: 'backendAuth key.locaton',
    make: (lib) =>
      lib.backendAuth(loose({ key: { value: BACKEND_KEY, locaton: { header: { name: 'x-key' } } } })),
    field: 'key.locaton',
    hint: 'location',
  },
  {
    what: 'backendAuth key.location.header.prefx',
    make: (lib) =>
      lib.backendAuth(
        loose({
          key: { value: BACKEND_KEY, location: { header: { name: 'authorization', prefx: 'Token ' } } },
        }),
      ),
    field: 'key.location.header.prefx',
    hint: 'prefix',
  },
  {
    what: 'backendAuth key.value.encoding (a secret reference)',
    make: (lib) => lib.backendAuth(loose({ key: { value: { file: secretFile, encoding: 'utf8' } } })),
    field: 'key.value.encoding',
    hint: /its options are env, file/,
  },
  {
    what: 'backendAuth key.value.envv',
    make: (lib) => lib.backendAuth(loose({ key: { value: { envv: 'BACKEND_KEY' } } })),
    field: 'key.value.envv',
    hint: 'env',
  },
  {
    what: 'backendAuth passthrough.locaton',
    make: (lib) => lib.backendAuth(loose({ passthrough: { locaton: { cookie: { name: 't' } } } })),
    field: 'passthrough.locaton',
    hint: 'location',
  },
  {
    what: 'backendAuth openai.api_key',
    make: (lib) => lib.backendAuth(loose({ openai: { api_key: BACKEND_KEY } })),
    field: 'openai.api_key',
    hint: 'apiKey',
  },
  {
    what: 'backendAuth anthropic.versoin',
    make: (lib) => lib.backendAuth(loose({ anthropic: { apiKey: BACKEND_KEY, versoin: '2023-06-01' } })),
    field: 'anthropic.versoin',
    hint: 'version',
  },
  {
    what: 'backendAuth azureOpenAI.apiVersion',
    make: (lib) => lib.backendAuth(loose({ azureOpenAI: { apiKey: BACKEND_KEY, apiVersion: '2024-10-21' } })),
    field: 'azureOpenAI.apiVersion',
    hint: /upstream URL/,
  },
  {
    what: 'backendAuth aws.acessKeyId',
    make: (lib) =>
      lib.backendAuth(
        loose({
          upstream: 'https://bedrock-runtime.us-east-1.amazonaws.com',
          aws: { acessKeyId: 'AKIDEXAMPLE', secretAccessKey: BACKEND_KEY },
        }),
      ),
    field: 'aws.acessKeyId',
    hint: 'accessKeyId',
  },
  {
    what: 'backendAuth aws.webIdentity.roleSessionName',
    make: (lib) =>
      lib.backendAuth(
        loose({
          upstream: 'https://bedrock-runtime.us-east-1.amazonaws.com',
          aws: { webIdentity: { roleArn: 'arn:aws:iam::1:role/r', tokenFile: '/t', roleSessionName: 's' } },
        }),
      ),
    field: 'aws.webIdentity.roleSessionName',
    hint: 'sessionName',
  },
  {
    what: 'backendAuth gcp.keyFile',
    make: (lib) => lib.backendAuth(loose({ gcp: { keyFile: '/sa.json' } })),
    field: 'gcp.keyFile',
    hint: 'credentialsFile',
  },
  {
    what: 'backendAuth gcp.impersonate.serviceAcount',
    make: (lib) =>
      lib.backendAuth(loose({ gcp: { impersonate: { serviceAcount: 'a@b.iam.gserviceaccount.com' } } })),
    field: 'gcp.impersonate.serviceAcount',
    hint: 'serviceAccount',
  },
  {
    what: 'backendAuth azure.tenant',
    make: (lib) =>
      lib.backendAuth(loose({ azure: { tenant: 'contoso', clientId: 'c', clientSecret: BACKEND_KEY } })),
    field: 'azure.tenant',
    hint: 'tenantId',
  },
  {
    what: 'backendAuth strip[0].header.prfix',
    make: (lib) =>
      lib.backendAuth(loose({ key: BACKEND_KEY, strip: [{ header: { name: 'x-k', prfix: 'K ' } }] })),
    field: 'strip[0].header.prfix',
    hint: 'prefix',
  },
];

interface ConflictCase {
  what: string;
  make(lib: AdapterModule): unknown;
  /** The field the message names, and words it must contain. */
  field: string;
  words: RegExp;
}

const CONFLICTS: ConflictCase[] = [
  {
    what: 'jwks { inline, url }',
    make: (lib) =>
      lib.jwtAuth(loose({ issuer: ISSUER, jwks: { ...inline(), url: 'https://issuer.test/jwks' } })),
    field: 'jwks',
    words: /both `url` and `inline`/,
  },
  {
    what: 'jwks { file, url }',
    make: (lib) =>
      lib.jwtAuth(loose({ issuer: ISSUER, jwks: { file: jwksFile, url: 'https://issuer.test/jwks' } })),
    field: 'jwks',
    words: /both `url` and `file`/,
  },
  {
    what: 'providers[0].jwks { file, inline }',
    make: (lib) =>
      lib.jwtAuth(loose({ providers: [{ issuer: ISSUER, jwks: { file: jwksFile, ...inline() } }] })),
    field: 'providers[0].jwks',
    words: /both `file` and `inline`/,
  },
  {
    what: 'jwks and secret in one provider',
    make: (lib) =>
      lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), secret: HMAC_SECRET, algorithms: ['HS256'] })),
    field: 'secret',
    words: /jwks/,
  },
  {
    what: 'issuer and providers',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, providers: [{ issuer: ISSUER, jwks: inline() }] })),
    field: 'issuer',
    words: /providers/,
  },
  {
    what: 'key and keyHash in one API key record',
    make: (lib) =>
      lib.apiKeyAuth(loose({ keys: [{ name: 'ci', key: API_KEY, keyHash: `sha256:${sha256(API_KEY)}` }] })),
    field: 'keys[0]',
    words: /both `key` and `keyHash`/,
  },
  {
    what: 'two kinds in one backendAuth',
    make: (lib) => lib.backendAuth(loose({ key: BACKEND_KEY, openai: { apiKey: BACKEND_KEY } })),
    field: 'key / openai',
    words: /exactly one/,
  },
  {
    what: 'a secret from env and file',
    make: (lib) => lib.backendAuth(loose({ key: { value: { env: 'HOME', file: secretFile } } })),
    field: 'key.value',
    words: /both `env` and `file`/,
  },
  {
    what: 'a header and a cookie location',
    make: (lib) =>
      lib.apiKeyAuth(
        loose({
          keys: [{ name: 'ci', key: API_KEY }],
          location: { header: { name: 'x-k' }, cookie: { name: 'k' } },
        }),
      ),
    field: 'location',
    words: /both `header` and `cookie`/,
  },
  {
    what: 'allow and deny in one rule',
    make: (lib) => lib.authorize(loose({ rules: [{ allow: 'true', deny: 'false' }] })),
    field: 'rules[0]',
    words: /both `allow` and `deny`/,
  },
  {
    what: 'aws static keys and a profile',
    make: (lib) =>
      lib.backendAuth(
        loose({
          upstream: 'https://bedrock-runtime.us-east-1.amazonaws.com',
          aws: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: BACKEND_KEY, profile: 'p' },
        }),
      ),
    field: 'aws.profile',
    words: /two sources/,
  },
  {
    what: 'aws webIdentity and a profile',
    make: (lib) =>
      lib.backendAuth(
        loose({
          upstream: 'https://bedrock-runtime.us-east-1.amazonaws.com',
          aws: { profile: 'p', webIdentity: { roleArn: 'arn:aws:iam::1:role/r', tokenFile: '/t' } },
        }),
      ),
    field: 'aws.webIdentity',
    words: /two sources/,
  },
  {
    what: 'azure clientSecret and federatedTokenFile',
    make: (lib) =>
      lib.backendAuth(
        loose({
          azure: { tenantId: 't', clientId: 'c', clientSecret: BACKEND_KEY, federatedTokenFile: '/f' },
        }),
      ),
    field: 'azure',
    words: /both `clientSecret` and `federatedTokenFile`/,
  },
  {
    what: 'an empty audiences list (reads as no check, refuses every token)',
    make: (lib) => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), audiences: [] })),
    field: 'audiences',
    words: /is empty/,
  },
  {
    what: 'gcp scopes on an ID token',
    make: (lib) =>
      lib.backendAuth(loose({ gcp: { type: 'idToken', audience: 'https://a.run.app', scopes: ['x'] } })),
    field: 'gcp.scopes',
    words: /accessToken/,
  },
  {
    what: 'gcp audience on an access token',
    make: (lib) => lib.backendAuth(loose({ gcp: { audience: 'https://a.run.app' } })),
    field: 'gcp.audience',
    words: /idToken/,
  },
];

describe.each(all)('options are checked whole on $name', (framework) => {
  const lib = framework.lib;

  it.each(TYPOS)('refuses $what, naming the full path and the option meant', ({ make, field, hint }) => {
    const error = refusal(() => make(lib));
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain(`invalid option \`${field}\`: is not an option of`);
    expectHint(error.message, hint);
    for (const secret of [API_KEY, BACKEND_KEY, HMAC_SECRET]) expect(error.message).not.toContain(secret);
  });

  it.each(CONFLICTS)('refuses $what instead of choosing one silently', ({ make, field, words }) => {
    const error = refusal(() => make(lib));
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain(`invalid option \`${field}\``);
    expect(error.message).toMatch(words);
    for (const secret of [API_KEY, BACKEND_KEY, HMAC_SECRET]) expect(error.message).not.toContain(secret);
  });

  it.each([
    {
      what: "authorize defaultDeny: 'true'",
      make: (l: AdapterModule) => l.authorize(loose({ rules: [{ deny: 'false' }], defaultDeny: 'true' })),
      field: 'defaultDeny',
    },
    {
      what: "authorize delegateErrors: 'yes'",
      make: (l: AdapterModule) => l.authorize(loose({ rules: ['true'], delegateErrors: 'yes' })),
      field: 'delegateErrors',
    },
    {
      what: 'jwtAuth delegateErrors: 1',
      make: (l: AdapterModule) => l.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), delegateErrors: 1 })),
      field: 'delegateErrors',
    },
    {
      what: "anyAuth delegateErrors: 'true'",
      make: (l: AdapterModule) =>
        l.anyAuth(l.apiKeyAuth({ keys: [{ name: 'ci', key: API_KEY }] }), loose({ delegateErrors: 'true' })),
      field: 'delegateErrors',
    },
    {
      what: "backendAuth delegateErrors: 'false'",
      make: (l: AdapterModule) => l.backendAuth(loose({ key: BACKEND_KEY, delegateErrors: 'false' })),
      field: 'delegateErrors',
    },
    {
      what: "basicAuth allowWeakHashes: 'no'",
      make: (l: AdapterModule) => l.basicAuth(loose({ htpasswd: HTPASSWD, allowWeakHashes: 'no' })),
      field: 'allowWeakHashes',
    },
  ])('refuses a flag that is not a boolean: $what', ({ make, field }) => {
    const error = refusal(() => make(lib));
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain(`invalid option \`${field}\`: must be true or false`);
  });

  it('a record added at run time with an unknown key is refused and not added', () => {
    const keys = lib.apiKeyAuth({ keys: [{ name: 'ci', key: API_KEY }] });
    const error = refusal(() =>
      keys.add(loose<ApiKeyRecord>({ name: 'new', key: 'ak_new_0123456789', scope: ['x'] })),
    );
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain('`record.scope`');
    expect(error.message).toContain('did you mean `scopes`?');
    expect(keys.list().map((info) => info.name)).toEqual(['ci']);
  });

  it('a keys file with an unknown key in a record is refused, naming the file and the record field', async () => {
    const file = dir.file(`typo-${framework.name}.json`);
    await writeFile(file, JSON.stringify([{ name: 'ci', key: API_KEY, scope: ['read'] }]));
    const error = refusal(() => lib.apiKeyAuth({ keys: { file } }));
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain('`keys.file`');
    expect(error.message).toContain(
      '[0].scope is not an option of an API key record; did you mean `scopes`?',
    );
    expect(error.message).not.toContain(API_KEY);
  });

  it('a JSON "__proto__" key is refused as unknown and pollutes nothing', () => {
    const parsed = JSON.parse(
      `{"issuer": "${ISSUER}", "jwks": ${JSON.stringify(inline())}, "__proto__": {"audiences": ["x"], "polluted": true}}`,
    );
    const error = refusal(() => lib.jwtAuth(parsed));
    expect(error.message).toContain('invalid option `__proto__`: is not an option of jwtAuth');
    const record = JSON.parse(`{"name": "ci", "key": "${API_KEY}", "__proto__": {"scopes": ["*"]}}`);
    const recordError = refusal(() => lib.apiKeyAuth({ keys: [record] }));
    expect(recordError.message).toContain('`keys[0].__proto__`');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).audiences).toBeUndefined();
  });

  it('an inherited enumerable key (Object.create) is checked like an own one', () => {
    const options = Object.assign(Object.create({ audience: 'my-api' }), { issuer: ISSUER, jwks: inline() });
    const error = refusal(() => lib.jwtAuth(options));
    expect(error.message).toContain('`audience`');
  });

  it('a key that is no identifier is quoted and cut short in the message', () => {
    const long = `x-${'a'.repeat(200)}`;
    const error = refusal(() => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), [long]: 1 })));
    expect(error.message).toContain('`["x-aaa');
    expect(error.message.length).toBeLessThan(1000);
  });

  it('a secret given as a function (jwks-rsa) is refused with the jwks form to use', () => {
    const error = refusal(() =>
      lib.jwtAuth(loose({ issuer: ISSUER, secret: () => 'k', algorithms: ['RS256'] })),
    );
    expect(error.message).toContain('`secret`');
    expect(error.message).toContain('jwks: { url }');
  });

  it('AuthResult.ok with a misspelt key throws, and the request it answers is refused (401), not let in', async () => {
    const error = refusal(() => lib.AuthResult.ok(loose({ subject: 'u1', scope: ['admin'] })));
    expect(error).toBeInstanceOf(lib.ConfigError);
    expect(error.message).toContain('invalid option `AuthResult.ok.scope`');
    expect(error.message).toContain('did you mean `scopes`?');
    const warnings: string[] = [];
    const middleware = lib.customAuth(
      { authenticate: () => lib.AuthResult.ok(loose({ subject: 'u1', scope: ['admin'] })) },
      { logger: { warn: (message) => warnings.push(message) } },
    );
    const server = await framework.serve([middleware]);
    try {
      await request(server.url).get('/').set('authorization', 'Bearer session-1').expect(401);
      expect(warnings.join('\n')).toContain('ConfigError');
    } finally {
      await server.close();
      await middleware.close();
    }
  });

  it('options that are not objects are refused with a ConfigError', () => {
    for (const make of [
      () => lib.jwtAuth(loose(undefined)),
      () => lib.jwtAuth(loose([])),
      () => lib.basicAuth(loose('alice:x')),
      () => lib.authorize(loose(null)),
      () => lib.forwardIdentity(loose(undefined)),
      () => lib.backendAuth(loose(42)),
      () => lib.apiKeyAuth(loose({ keys: [null] })),
      () => lib.jwtAuth(loose({ issuer: ISSUER, jwks: inline(), cache: true })),
      () => lib.jwtAuth(loose({ issuer: ISSUER, jwks: 'https://issuer.test/jwks' })),
      () =>
        lib.apiKeyAuth(loose({ keys: [{ name: 'ci', key: API_KEY }], location: { header: 'x-api-key' } })),
    ]) {
      expect(refusal(make)).toBeInstanceOf(lib.ConfigError);
    }
  });

  describe('no false positives', () => {
    const made: Closable[] = [];
    afterAll(async () => {
      await Promise.all(made.map((middleware) => middleware.close()));
    });
    const keep = <T extends Closable>(middleware: T): T => {
      made.push(middleware);
      return middleware;
    };

    it('the README option sets construct', () => {
      const logger = { warn() {} };
      keep(
        lib.jwtAuth({
          providers: [
            { issuer: ISSUER, audiences: ['api'], jwks: inline() },
            { issuer: 'https://ci.example.com', jwks: { file: jwksFile } },
          ],
        }),
      );
      keep(
        lib.jwtAuth({
          issuer: ISSUER,
          jwks: inline(),
          location: { cookie: { name: 'session' } },
          mode: 'optional',
        }),
      );
      keep(lib.jwtAuth({ issuer: 'internal', secret: HMAC_SECRET, algorithms: ['HS256'] }));
      keep(
        lib.jwtAuth({
          issuer: ISSUER,
          audiences: ['api'],
          jwks: { url: 'http://127.0.0.1:9/jwks', timeoutMs: 1000, cooldownSeconds: 10 },
          algorithms: ['RS256', 'ES256'],
          clockSkewSeconds: 10,
          requiredClaims: ['exp', 'sub'],
          scopeClaim: 'scp',
          location: { header: { name: 'authorization', prefix: 'Bearer ' } },
          mode: 'strict',
          publicPaths: ['/health'],
          realm: 'api',
          maxTokenLength: 8192,
          delegateErrors: false,
          logger,
          cache: { maxEntries: 10, ttlSeconds: 60 },
        }),
      );
      keep(lib.jwtAuth({ issuer: ISSUER, jwks: inline(), cache: false }));
      keep(lib.basicAuth({ htpasswd: { file: htpasswdFile }, realm: 'Admin' }));
      keep(
        lib.basicAuth({
          htpasswd: HTPASSWD,
          realm: 'Restricted',
          location: { header: { name: 'proxy-authorization', prefix: 'Basic ' } },
          allowWeakHashes: false,
          maxBcryptCost: 12,
          cache: { maxEntries: 5 },
          mode: 'optional',
          publicPaths: ['/'],
          delegateErrors: true,
          logger,
        }),
      );
      const keys = keep(
        lib.apiKeyAuth({
          keys: [
            {
              name: 'ci',
              keyHash: `sha256:${sha256(API_KEY)}`,
              scopes: ['deploy'],
              metadata: { team: 'platform' },
            },
            {
              name: 'partner',
              key: 'ak_partner_0123456789',
              expiresAt: '2027-01-01T00:00:00Z',
              revoked: false,
            },
          ],
          location: { header: { name: 'x-api-key' } },
          realm: 'api',
          mode: 'strict',
          publicPaths: ['/health'],
          delegateErrors: false,
          logger,
        }),
      );
      keys.add({ name: 'new-client', key: 'ak_new_client_0123456', scopes: ['chat:read'] });
      keep(lib.apiKeyAuth({ keys: { file: keysFile }, location: { queryParameter: { name: 'api_key' } } }));
      keep(
        lib.anyAuth(
          lib.apiKeyAuth({ keys: [{ name: 'ci', key: API_KEY }] }),
          lib.jwtAuth({ issuer: ISSUER, jwks: inline() }),
          {
            mode: 'optional',
            publicPaths: ['/health'],
            delegateErrors: false,
          },
        ),
      );
      keep(
        lib.customAuth(provider, {
          location: { cookie: { name: 'sid' } },
          realm: 'api',
          mode: 'permissive',
          publicPaths: ['/'],
          delegateErrors: true,
          logger,
        }),
      );
      lib.authorize({
        rules: ['auth.subject != ""', { allow: 'true' }, { deny: 'false' }, { require: 'true' }],
        defaultDeny: true,
        delegateErrors: true,
      });
      lib.forwardIdentity({ headers: { 'x-user-id': 'auth.subject', 'x-scopes': 'auth.scopes' } });
      const upstream = 'https://bedrock-runtime.us-east-1.amazonaws.com';
      for (const options of [
        { key: BACKEND_KEY },
        {
          key: { value: { file: secretFile }, location: { queryParameter: { name: 'key' } } },
          strip: [{ cookie: { name: 's' } }],
        },
        { key: { value: { env: 'HOME' } }, maxBodyBytes: 1024, delegateErrors: true, logger },
        { openai: { apiKey: BACKEND_KEY } },
        { anthropic: { apiKey: BACKEND_KEY, version: '2023-06-01' } },
        { azureOpenAI: { apiKey: BACKEND_KEY } },
        { passthrough: true as const },
        { passthrough: { location: { header: { name: 'x-token' } } } },
        {
          upstream,
          aws: {
            accessKeyId: 'AKIDEXAMPLE',
            secretAccessKey: BACKEND_KEY,
            sessionToken: 't',
            region: 'us-east-1',
            service: 'bedrock',
          },
        },
        {
          upstream,
          aws: { webIdentity: { roleArn: 'arn:aws:iam::1:role/r', tokenFile: '/t', sessionName: 's' } },
        },
        { upstream, aws: { profile: 'bedrock' } },
        {
          gcp: {
            type: 'accessToken' as const,
            scopes: ['https://www.googleapis.com/auth/cloud-platform'],
            credentialsFile: '/sa.json',
          },
        },
        {
          gcp: {
            type: 'idToken' as const,
            audience: 'https://a.run.app',
            impersonate: { serviceAccount: 'a@b.iam.gserviceaccount.com', delegates: [] },
          },
        },
        {
          azure: {
            tenantId: 'contoso',
            clientId: 'c',
            clientSecret: BACKEND_KEY,
            scope: 'api://a/.default',
            authorityHost: 'https://login.microsoftonline.us',
          },
        },
        { azure: { tenantId: 'contoso', clientId: 'c', federatedTokenFile: '/f' } },
      ]) {
        keep(lib.backendAuth(options));
      }
    });

    it('known keys whose value is undefined, and symbol keys, are accepted', () => {
      keep(
        lib.jwtAuth(
          loose<JwtAuthOptions>({
            issuer: ISSUER,
            audiences: undefined,
            location: undefined,
            jwks: { ...inline(), url: undefined, file: undefined },
            [Symbol('tag')]: true,
          }),
        ),
      );
      keep(
        lib.apiKeyAuth(
          loose({ keys: [{ name: 'ci', key: API_KEY, keyHash: undefined, scopes: undefined }] }),
        ),
      );
      keep(
        lib.apiKeyAuth(
          loose({
            keys: [{ name: 'ci', key: API_KEY }],
            location: { header: { name: 'x-k' }, cookie: undefined },
          }),
        ),
      );
      lib.authorize(loose({ rules: [{ allow: 'true', deny: undefined }] }));
    });

    it('a class instance with getters on its prototype is read as before', () => {
      class Options {
        readonly issuer = ISSUER;
        readonly jwks = inline();
        get audiences() {
          return ['api'];
        }
      }
      keep(lib.jwtAuth(new Options()));
    });
  });

  it('the audiences the corrected spelling sets are enforced', async () => {
    const middleware = lib.jwtAuth({ issuer: ISSUER, jwks: inline(), audiences: ['my-api'] });
    const server = await framework.serve([middleware]);
    try {
      const other = await sign(key, { sub: 'admin' }, { audience: 'another-api' });
      const mine = await sign(key, { sub: 'alice' }, { audience: 'my-api' });
      await request(server.url).get('/').set('authorization', `Bearer ${other}`).expect(401);
      await request(server.url).get('/').set('authorization', `Bearer ${mine}`).expect(200);
    } finally {
      await server.close();
      await middleware.close();
    }
  });
});

describe('known keys (pure)', () => {
  it('editDistance counts insertions, deletions, substitutions and transpositions', () => {
    expect(editDistance('audiences', 'audiences')).toBe(0);
    expect(editDistance('audience', 'audiences')).toBe(1);
    expect(editDistance('audeinces', 'audiences')).toBe(1);
    expect(editDistance('urll', 'url')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests nothing for a name far from every option', () => {
    const known = keysOf<{ alpha?: number; beta?: number }>()('test', { alpha: true, beta: true });
    expect(unknownKeyProblem('zzzzzz', known)).toBe('is not an option of test; its options are alpha, beta');
    expect(unknownKeyProblem('alpah', known)).toBe('is not an option of test; did you mean `alpha`?');
  });

  it('the known-key list must name every key of its interface, and no other (a compile error)', () => {
    interface Two {
      one?: string;
      two?: string;
    }
    // @ts-expect-error `two` is missing
    keysOf<Two>()('two', { one: true });
    // @ts-expect-error `three` is not a key of Two
    keysOf<Two>()('two', { one: true, two: true, three: true });
    expect(keysOf<Two>()('two', { one: true, two: true }).names).toEqual(['one', 'two']);
  });
});
