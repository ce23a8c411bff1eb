import {
  constants,
  createHmac,
  createPublicKey,
  sign as cryptoSign,
  type JsonWebKey,
  KeyObject,
  randomBytes,
  type webcrypto,
} from 'node:crypto';
import { CompactEncrypt, importJWK, SignJWT } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Echo, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { JwksServer } from './support/jwks-server.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { rawGet } from './support/raw-request.js';

// Hostile tokens against jwtAuth on both adapters. Every one must be answered 401 with a
// fixed JSON body (never 500, never 200), an RFC 6750 challenge, and no echo of the token.

const all = await frameworks();

let real: TestKey; // the issuer's RSA key, published in the JWKS
let ec: TestKey; // the issuer's ES256 key, published in the JWKS
let attacker: TestKey; // a key the attacker controls, never published
let realPrivate: KeyObject;
let ecPrivate: KeyObject;
/** The attacker's own JWKS server, named by jku / x5u headers: it must never be asked. */
let attackerServer: JwksServer;

const HMAC_SECRET = 'portcullis-test-secret-0123456789-abcdefghij'; // 44 bytes >= 32

beforeAll(async () => {
  [real, ec, attacker] = await Promise.all([makeKey('RS256'), makeKey('ES256'), makeKey('RS256')]);
  realPrivate = KeyObject.from(real.privateKey as unknown as webcrypto.CryptoKey);
  ecPrivate = KeyObject.from(ec.privateKey as unknown as webcrypto.CryptoKey);
  attackerServer = new JwksServer();
  attackerServer.document = jwks(attacker);
  await attackerServer.start();
});

afterAll(async () => {
  await attackerServer?.stop();
});

// ---------------------------------------------------------------------------------------------
// Token building blocks (node:crypto), so headers and payloads can be anything at all.

const b64 = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');
const json64 = (value: unknown): string => b64(JSON.stringify(value));
const now = (): number => Math.floor(Date.now() / 1000);

/** Claims the main provider would accept. */
function goodClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const t = now();
  return { sub: 'alice', iss: ISSUER, aud: AUDIENCE, iat: t, exp: t + 300, ...extra };
}

/** A compact JWS over exactly `header` and the payload segment given, signed with node:crypto. */
function rawSign(alg: 'RS256' | 'PS256' | 'ES256', header: object, payloadSegment: string, key: KeyObject) {
  const input = `${json64(header)}.${payloadSegment}`;
  const data = Buffer.from(input);
  const signature =
    alg === 'RS256'
      ? cryptoSign('sha256', data, key)
      : alg === 'PS256'
        ? cryptoSign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
        : cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64(signature)}`;
}

/** HS256 over `header` and `claims` with `secret` as the HMAC key. */
function hmacSign(header: object, claims: object, secret: string | Uint8Array): string {
  const input = `${json64(header)}.${json64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const withoutSignature = (token: string): string => token.slice(0, token.lastIndexOf('.'));

// ---------------------------------------------------------------------------------------------
// The attack table.

type Target = 'main' | 'rs256Only';
interface Attack {
  name: string;
  token: () => string | Promise<string>;
  /** The description the client reads, when the case pins it (every code here is invalid_token). */
  description?: string;
  /** main: default algorithms, JWKS = real + ec. rs256Only: algorithms ['RS256'], JWK without alg. */
  target?: Target;
}

const noneAttacks: Attack[] = ['none', 'None', 'NONE', 'nOnE'].flatMap((alg) => [
  {
    name: `alg "${alg}" with an empty signature`,
    token: () => `${json64({ alg, typ: 'JWT', kid: real.kid })}.${json64(goodClaims())}.`,
  },
  {
    name: `alg "${alg}" with a junk signature`,
    token: () => `${json64({ alg, typ: 'JWT' })}.${json64(goodClaims())}.${b64('junk-signature-bytes')}`,
  },
]);

const attacks: Attack[] = [
  ...noneAttacks,
  {
    name: 'valid token with the signature stripped (header.payload.)',
    token: async () => `${withoutSignature(await sign(real))}.`,
  },
  {
    name: 'valid token with the signature stripped (header.payload)',
    token: async () => withoutSignature(await sign(real)),
  },
  {
    name: 'HS256 with the RSA public key PEM (SPKI) as HMAC secret',
    token: () => {
      const pem = createPublicKey({ key: real.publicJwk as JsonWebKey, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      return hmacSign({ alg: 'HS256', typ: 'JWT', kid: real.kid }, goodClaims(), pem);
    },
  },
  {
    name: 'HS256 with the public JWK JSON text as HMAC secret',
    token: () => hmacSign({ alg: 'HS256', kid: real.kid }, goodClaims(), JSON.stringify(real.publicJwk)),
  },
  {
    name: 'embedded jwk header with the attacker key (no kid)',
    token: () =>
      sign(attacker, {}, { kid: null, header: { jwk: { ...attacker.publicJwk, kid: undefined } } }),
  },
  {
    name: 'embedded jwk header with the attacker key and the real kid',
    token: () => sign(attacker, {}, { kid: real.kid, header: { jwk: attacker.publicJwk } }),
  },
  {
    name: 'jku header pointing at the attacker JWKS',
    token: () => sign(attacker, {}, { header: { jku: attackerServer.url } }),
  },
  {
    name: 'jku header pointing at the attacker JWKS, with the real kid',
    token: () => sign(attacker, {}, { kid: real.kid, header: { jku: attackerServer.url } }),
  },
  {
    name: 'x5u header pointing at the attacker server',
    token: () => sign(attacker, {}, { header: { x5u: `${attackerServer.origin}/cert.pem` } }),
  },
  {
    name: 'unknown crit header, correctly signed by the real key',
    token: () =>
      rawSign(
        'RS256',
        { alg: 'RS256', kid: real.kid, crit: ['exp-ext'], 'exp-ext': true },
        json64(goodClaims()),
        realPrivate,
      ),
  },
  {
    name: 'unencoded payload (b64: false, crit b64), correctly signed',
    token: () =>
      rawSign(
        'RS256',
        { alg: 'RS256', kid: real.kid, b64: false, crit: ['b64'] },
        json64(goodClaims()),
        realPrivate,
      ),
  },
  {
    name: 'ES256 psychic signature (r = s = 0)',
    token: async () => `${withoutSignature(await sign(ec))}.${b64(Buffer.alloc(64))}`,
  },
  {
    name: 'ES256 header with the kid of the RSA key (key/algorithm confusion)',
    token: () => rawSign('ES256', { alg: 'ES256', kid: real.kid }, json64(goodClaims()), ecPrivate),
  },
  {
    name: 'expired 2 minutes ago (beyond the 30 s skew)',
    token: () => sign(real, {}, { expiresIn: now() - 120 }),
    // Behind a Bearer challenge, RFC 6750's invalid_token; the description says why (issue 12).
    description: 'The token has expired',
  },
  {
    name: 'nbf 2 minutes in the future (beyond the skew)',
    token: () => sign(real, { nbf: now() + 120 }),
  },
  { name: 'wrong iss', token: () => sign(real, {}, { issuer: 'https://evil.test' }) },
  { name: 'wrong aud', token: () => sign(real, {}, { audience: 'someone-else' }) },
  { name: 'no aud', token: () => sign(real, {}, { audience: null }) },
  { name: 'missing exp', token: () => sign(real, {}, { expiresIn: null }) },
  {
    name: 'exp that is not a number',
    token: () =>
      rawSign(
        'RS256',
        { alg: 'RS256', kid: real.kid },
        json64(goodClaims({ exp: `${now() + 300}` })),
        realPrivate,
      ),
  },
  {
    name: 'exp of 1e400 (Infinity after JSON.parse: "never expires"), correctly signed',
    token: () =>
      rawSign(
        'RS256',
        { alg: 'RS256', kid: real.kid },
        b64(JSON.stringify(goodClaims({ exp: 0 })).replace('"exp":0', '"exp":1e400')),
        realPrivate,
      ),
  },
  {
    name: 'payload that is not JSON, correctly signed',
    token: () => rawSign('RS256', { alg: 'RS256', kid: real.kid }, b64('not json'), realPrivate),
  },
  {
    name: 'payload that is a JSON array, correctly signed',
    token: () => rawSign('RS256', { alg: 'RS256', kid: real.kid }, json64([goodClaims()]), realPrivate),
  },
  {
    name: '5-part token (a JWE encrypted to the public key)',
    token: async () => {
      const { alg: _alg, use: _use, ...bare } = real.publicJwk;
      const encryptionKey = await importJWK(bare, 'RSA-OAEP-256');
      return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(goodClaims())))
        .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: real.kid })
        .encrypt(encryptionKey);
    },
  },
  { name: '20 KB of junk', token: () => randomBytes(15_360).toString('base64url') },
  {
    name: '20 KB of junk shaped like a JWT',
    token: () => `${b64(randomBytes(5000))}.${b64(randomBytes(5000))}.${b64(randomBytes(5000))}`,
  },
  {
    name: 'header that is not base64url JSON',
    token: async () => `!!not*base64!!.${(await sign(real)).split('.').slice(1).join('.')}`,
  },
  {
    name: 'header that is base64url of non-JSON text',
    token: async () => `${b64('{alg: RS256')}.${(await sign(real)).split('.').slice(1).join('.')}`,
  },
  {
    name: 'header without alg',
    token: () => `${json64({ kid: real.kid, typ: 'JWT' })}.${json64(goodClaims())}.${b64('x')}`,
  },
  { name: 'kid that is a number', token: () => sign(real, {}, { header: { kid: 42 } }) },
  { name: 'kid that is an object', token: () => sign(real, {}, { header: { kid: { $ne: null } } }) },
  {
    name: 'PS256 signed by the RSA key when algorithms is [RS256]',
    token: () => rawSign('PS256', { alg: 'PS256', kid: real.kid }, json64(goodClaims()), realPrivate),
    target: 'rs256Only',
  },
  {
    name: 'PS256 signed by the RSA key whose JWK pins alg RS256',
    token: () => rawSign('PS256', { alg: 'PS256', kid: real.kid }, json64(goodClaims()), realPrivate),
  },
  {
    name: 'ES256 token (a real key, but not allowed) when algorithms is [RS256]',
    token: () => sign(ec),
    target: 'rs256Only',
  },
];

/** Tokens the main provider must accept: they prove the attacks fail for the reason tested. */
const controls: Attack[] = [
  { name: 'valid RS256 token (jose)', token: () => sign(real) },
  { name: 'valid ES256 token (jose)', token: () => sign(ec) },
  {
    name: 'valid RS256 token built with node:crypto (the raw signer works)',
    token: () => rawSign('RS256', { alg: 'RS256', kid: real.kid }, json64(goodClaims()), realPrivate),
  },
  {
    name: 'token expired 10 s ago (within the 30 s skew)',
    token: () => sign(real, {}, { expiresIn: now() - 10 }),
  },
  { name: 'nbf 10 s in the future (within the skew)', token: () => sign(real, { nbf: now() + 10 }) },
  {
    name: 'valid RS256 token on the RS256-only provider',
    token: () => sign(real),
    target: 'rs256Only',
  },
];

const CHALLENGE = /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/;

/** Refused as the contract says, with no trace of the token anywhere in the answer. */
async function expectRefused(url: string, token: string, error: string, description?: string): Promise<void> {
  const res = await rawGet(`${url}/echo`, { authorization: `Bearer ${token}` });
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(JSON.parse(res.body)).toEqual({ error, error_description: description ?? expect.any(String) });
  const challenge = String(res.headers['www-authenticate']);
  expect(challenge).toMatch(CHALLENGE);
  for (const text of [res.body, challenge]) {
    expect(text).not.toContain(token);
    for (const segment of token.split('.')) if (segment.length >= 8) expect(text).not.toContain(segment);
  }
}

describe.each(all)('jwtAuth against hostile tokens on $name', (framework) => {
  const servers = {} as Record<Target, TestServer>;
  beforeAll(async () => {
    const { alg: _alg, ...realWithoutAlg } = real.publicJwk;
    servers.main = await framework.serve([
      framework.lib.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwks(real, ec) } }),
    ]);
    servers.rs256Only = await framework.serve([
      framework.lib.jwtAuth({
        issuer: ISSUER,
        audiences: [AUDIENCE],
        algorithms: ['RS256'],
        // No alg pin on the JWK: only the `algorithms` option stands between PS256 and this key.
        jwks: { inline: { keys: [realWithoutAlg, ec.publicJwk] } },
      }),
    ]);
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
  });

  it.each(controls)('accepts: $name', async ({ token, target = 'main' }) => {
    const res = await request(servers[target].url)
      .get('/echo')
      .set('Authorization', `Bearer ${await token()}`);
    expect(res.status).toBe(200);
    expect((res.body as Echo).auth).toMatchObject({ subject: 'alice', method: 'jwt' });
  });

  it.each(attacks)('refuses: $name', async ({ token: make, description, target = 'main' }) => {
    const token = await make();
    await expectRefused(servers[target].url, token, 'invalid_token', description);
    // No attack, jku and x5u included, ever makes portcullis fetch a URL named by the token.
    expect(attackerServer.requests).toEqual([]);
  });

  it('never follows jku even when the provider has a remote JWKS to refresh', async () => {
    const issuerKeys = new JwksServer();
    issuerKeys.document = jwks(real);
    await issuerKeys.start();
    const middleware = framework.lib.jwtAuth({
      issuer: ISSUER,
      audiences: [AUDIENCE],
      jwks: { url: issuerKeys.url },
      logger: { warn() {} },
    });
    const server = await framework.serve([middleware]);
    try {
      const ok = await request(server.url)
        .get('/')
        .set('Authorization', `Bearer ${await sign(real)}`);
      expect(ok.status).toBe(200);
      // An unknown kid makes the provider refresh its own JWKS, and only that.
      const hostile = await sign(attacker, {}, { header: { jku: attackerServer.url } });
      await expectRefused(server.url, hostile, 'invalid_token');
      const x5u = await sign(attacker, {}, { header: { x5u: attackerServer.url } });
      await expectRefused(server.url, x5u, 'invalid_token');
      expect(attackerServer.requests).toEqual([]);
      expect(issuerKeys.requests.every((path) => path === '/jwks.json')).toBe(true);
      expect(issuerKeys.jwksFetches).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
      await middleware.close();
      await issuerKeys.stop();
    }
  });
});

describe.each(all)('jwtAuth with an explicit HMAC secret on $name', (framework) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await framework.serve([
      framework.lib.jwtAuth({ issuer: ISSUER, secret: HMAC_SECRET, algorithms: ['HS256'] }),
    ]);
  });
  afterAll(async () => {
    await server.close();
  });

  const hs = (secret: string, alg = 'HS256') =>
    new SignJWT({ sub: 'alice', scope: 'read' })
      .setProtectedHeader({ alg })
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));

  it('accepts a HS256 token signed with the configured secret', async () => {
    const res = await request(server.url)
      .get('/')
      .set('Authorization', `Bearer ${await hs(HMAC_SECRET)}`);
    expect(res.status).toBe(200);
    expect((res.body as Echo).auth).toMatchObject({ subject: 'alice', method: 'jwt', scopes: ['read'] });
  });

  it.each([
    {
      name: 'HS256 signed with another secret',
      token: () => hs('another-secret-of-enough-length-0123456789'),
    },
    { name: 'HS384 signed with the right secret (alg not listed)', token: () => hs(HMAC_SECRET, 'HS384') },
    { name: 'RS256 token from a real key', token: () => sign(real) },
    { name: 'alg none', token: () => `${json64({ alg: 'none' })}.${json64(goodClaims())}.` },
    {
      name: 'HS256 signed with the secret but expired',
      token: () => hmacSign({ alg: 'HS256' }, goodClaims({ exp: now() - 120 }), HMAC_SECRET),
      description: 'The token has expired',
    },
  ])(
    'refuses: $name',
    async ({ token, description }: { token: () => Promise<string> | string; description?: string }) => {
      await expectRefused(server.url, await token(), 'invalid_token', description);
    },
  );
});
