import { createHmac, randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { redisStore } from '../src/store/redis.js';
import { replayCache } from '../src/store/replay-cache.js';
import type { Store } from '../src/store/store.js';
import { type Echo, frameworks, type TestServer } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { headerLines, rawGet } from './support/raw-request.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

// Issue 14: DPoP (RFC 9449) on jwtAuth. Every proof starts as one made by oauth4webapi (an
// independent client library), sent to a real app on both frameworks; negative cases are
// oauth4webapi's proofs tampered with by hand (re-signed with the same client key).

const all = await frameworks();

/** The public URL clients call; the test server stands behind it (as behind a TLS proxy). */
const PUBLIC = 'https://api.example.test';
const ALGS = 'ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA';
const DPOP_CHALLENGE = `DPoP realm="api", algs="${ALGS}"`;

let issuerKey: TestKey;
beforeAll(async () => {
  issuerKey = await makeKey('RS256');
});

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A DPoP client: an oauth4webapi key pair and DPoP handle, and its key's thumbprint. */
interface Client {
  keyPair: Awaited<ReturnType<typeof oauth.generateKeyPair>>;
  handle: oauth.DPoPHandle;
  jkt: string;
}

async function dpopClient(clockSkew = 0): Promise<Client> {
  const keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
  const handle = oauth.DPoP({ [oauth.clockSkew]: clockSkew }, keyPair);
  return { keyPair, handle, jkt: await handle.calculateThumbprint() };
}

/** The proof oauth4webapi makes for `token` at `method url` (captured, not sent). */
async function proofFor(
  client: Client,
  token: string,
  method = 'GET',
  url = `${PUBLIC}/echo`,
): Promise<string> {
  let proof: string | null = null;
  await oauth.protectedResourceRequest(token, method, new URL(url), new Headers(), null, {
    DPoP: client.handle,
    [oauth.customFetch]: async (_url, options) => {
      proof = new Headers(options.headers).get('dpop');
      return new Response('{}', { status: 200 });
    },
  });
  if (proof === null) throw new Error('oauth4webapi sent no DPoP proof');
  return proof;
}

/** oauth4webapi calling the real server, through the public URL (rewritten to the server). */
function callThrough(server: TestServer, client: Client, token: string, path = '/echo'): Promise<Response> {
  return oauth.protectedResourceRequest(token, 'GET', new URL(`${PUBLIC}${path}`), new Headers(), null, {
    DPoP: client.handle,
    [oauth.customFetch]: (url, options) => fetch(url.replace(PUBLIC, server.url), options as RequestInit),
  });
}

type Json = Record<string, unknown>;
const decode = (part: string): Json => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const encode = (value: Json) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** oauth4webapi's proof with its header and claims edited, re-signed with the client's key. */
async function tampered(
  client: Client,
  proof: string,
  edit: (header: Json, claims: Json) => void,
): Promise<string> {
  const [h, c] = proof.split('.') as [string, string, string];
  const header = decode(h);
  const claims = decode(c);
  edit(header, claims);
  const input = `${encode(header)}.${encode(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    client.keyPair.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

const bound = (client: Client, claims: Json = {}) => sign(issuerKey, { cnf: { jkt: client.jkt }, ...claims });

function challenges(res: { rawHeaders: string[] }): string[] {
  return headerLines(res.rawHeaders, 'www-authenticate');
}

const refusal = (code: string, description: string) =>
  `DPoP realm="api", error="${code}", error_description="${description}", algs="${ALGS}"`;

describe.each(all)('DPoP on jwtAuth, $name', (framework) => {
  function jwtAuth(dpop: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
    const auth = framework.lib.jwtAuth({
      issuer: ISSUER,
      audiences: [AUDIENCE],
      jwks: { inline: jwks(issuerKey) },
      dpop: { mode: 'allowed', publicUrl: PUBLIC, ...dpop },
      ...extra,
    } as never);
    cleanups.push(() => auth.close());
    return auth;
  }
  async function serve(dpop: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
    const server = await framework.serve([jwtAuth(dpop, extra)]);
    cleanups.push(() => server.close());
    return server;
  }
  const send = (
    server: TestServer,
    token: string,
    proof?: string | string[],
    path = '/echo',
    scheme = 'DPoP',
  ) =>
    rawGet(`${server.url}${path}`, {
      authorization: `${scheme} ${token}`,
      ...(proof === undefined ? {} : { dpop: proof }),
    });

  describe('accepted', () => {
    it('a bound token with an oauth4webapi proof, sent by oauth4webapi; the app sees neither header', async () => {
      const server = await serve();
      const client = await dpopClient();
      const token = await bound(client);
      const res = await callThrough(server, client, token);
      expect(res.status).toBe(200);
      const echo = (await res.json()) as Echo;
      expect(echo.auth?.jwt?.cnf).toEqual({ jkt: client.jkt });
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.headers.dpop).toBeUndefined();
      // The same token again (now from the verified-token cache) with a fresh proof.
      expect((await callThrough(server, client, token)).status).toBe(200);
    });

    it('a request with a query string (htu is compared without it), under a public base path', async () => {
      const server = await serve({ publicUrl: `${PUBLIC}/gw/` });
      const client = await dpopClient();
      const token = await bound(client);
      const proof = await proofFor(client, token, 'GET', `${PUBLIC}/gw/echo?x=1`);
      expect(decode(proof.split('.')[1]!).htu).toBe(`${PUBLIC}/gw/echo`);
      expect((await send(server, token, proof, '/echo?x=1')).status).toBe(200);
    });

    it('htu normalised as RFC 3986 says: host case, default port, %7E, a query in the proof', async () => {
      const server = await serve();
      const client = await dpopClient();
      const token = await bound(client);
      for (const htu of [
        'https://API.Example.TEST/echo',
        'https://api.example.test:443/echo',
        'https://api.example.test/%65cho',
        'https://api.example.test/echo?x=1#f',
      ]) {
        const proof = await tampered(client, await proofFor(client, token), (_, claims) => {
          claims.htu = htu;
        });
        expect((await send(server, token, proof)).status, htu).toBe(200);
      }
    });

    it('an unbound token as Bearer in mode allowed', async () => {
      const server = await serve();
      const res = await rawGet(`${server.url}/echo`, { authorization: `Bearer ${await sign(issuerKey)}` });
      expect(res.status).toBe(200);
    });
  });

  describe('challenges', () => {
    it('allowed, nothing sent: 401 with a Bearer and a DPoP challenge, no error', async () => {
      const res = await rawGet(`${(await serve()).url}/echo`);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error).toBe('credentials_missing');
      expect(challenges(res)).toEqual(['Bearer realm="api"', DPOP_CHALLENGE]);
    });

    it('required, nothing sent: only the DPoP challenge, with the configured algs', async () => {
      const res = await rawGet(
        `${(await serve({ mode: 'required', algorithms: ['ES256', 'EdDSA'] })).url}/echo`,
      );
      expect(res.status).toBe(401);
      expect(challenges(res)).toEqual(['DPoP realm="api", algs="ES256 EdDSA"']);
    });

    it('required: an unbound token as Bearer is refused, in the DPoP challenge', async () => {
      const server = await serve({ mode: 'required' });
      const res = await rawGet(`${server.url}/echo`, { authorization: `Bearer ${await sign(issuerKey)}` });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error).toBe('invalid_token');
      expect(challenges(res)).toEqual([
        refusal('invalid_token', 'This resource accepts DPoP-bound tokens only'),
      ]);
    });

    it('a DPoP-bound token sent as Bearer (with a valid proof): 401 Bearer invalid_token plus the DPoP challenge', async () => {
      const server = await serve();
      const client = await dpopClient();
      const token = await bound(client);
      const res = await send(server, token, await proofFor(client, token), '/echo', 'Bearer');
      expect(res.status).toBe(401);
      const description = 'The token is DPoP-bound: send it with the DPoP scheme and a proof';
      expect(JSON.parse(res.body)).toEqual({ error: 'invalid_token', error_description: description });
      expect(challenges(res)).toEqual([
        `Bearer realm="api", error="invalid_token", error_description="${description}"`,
        DPOP_CHALLENGE,
      ]);
    });

    it('a cached bound token sent as Bearer is refused too', async () => {
      const server = await serve();
      const client = await dpopClient();
      const token = await bound(client);
      expect((await send(server, token, await proofFor(client, token))).status).toBe(200);
      const res = await send(server, token, undefined, '/echo', 'Bearer');
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error).toBe('invalid_token');
    });

    it('an unbound token under the DPoP scheme: invalid_token in the DPoP challenge', async () => {
      const server = await serve();
      const client = await dpopClient();
      const token = await sign(issuerKey);
      const res = await send(server, token, await proofFor(client, token));
      expect(res.status).toBe(401);
      expect(challenges(res)).toEqual([refusal('invalid_token', 'The token is not bound to a DPoP key')]);
    });

    it('a bad token under the DPoP scheme: invalid_token in the DPoP challenge', async () => {
      const server = await serve();
      const client = await dpopClient();
      const token = `${(await bound(client)).slice(0, -4)}AAAA`;
      const res = await send(server, token, await proofFor(client, token));
      expect(res.status).toBe(401);
      expect(challenges(res)).toEqual([refusal('invalid_token', "The token's signature is not valid")]);
    });

    it('a scope the token lacks: 403 with the Bearer and the DPoP insufficient_scope challenges', async () => {
      const client = await dpopClient();
      const token = await bound(client);
      for (const mode of ['allowed', 'required']) {
        const server = await framework.serve([jwtAuth({ mode }), framework.lib.requireScopes('admin')]);
        cleanups.push(() => server.close());
        const res = await send(server, token, await proofFor(client, token));
        expect(res.status).toBe(403);
        expect(JSON.parse(res.body).error).toBe('insufficient_scope');
        const dpopLine = `DPoP realm="api", error="insufficient_scope", scope="admin", algs="${ALGS}"`;
        expect(challenges(res)).toEqual(
          mode === 'allowed' ? ['Bearer error="insufficient_scope", scope="admin"', dpopLine] : [dpopLine],
        );
      }
    });

    it('Authorization sent twice (Bearer and DPoP): 400 invalid_request', async () => {
      const server = await serve();
      const client = await dpopClient();
      const token = await bound(client);
      const res = await rawGet(`${server.url}/echo`, {
        authorization: [`DPoP ${token}`, `Bearer ${token}`],
        dpop: await proofFor(client, token),
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error).toBe('invalid_request');
    });
  });

  describe('refused proofs: 401 invalid_dpop_proof, in the DPoP challenge', () => {
    type Case = {
      name: string;
      /** The token and the headers to send, from a client and its bound token. */
      make(
        client: Client,
        token: string,
        server: TestServer,
      ): Promise<{ token?: string; proof?: string | string[] }>;
      description: string;
    };
    const OTHER_REQUEST = 'The DPoP proof is for another request';
    const INVALID = 'The DPoP proof is not valid';
    const edit = (change: (header: Json, claims: Json) => void) => async (client: Client, token: string) => ({
      proof: await tampered(client, await proofFor(client, token), change),
    });
    const cases: Case[] = [
      {
        name: 'wrong htm (a proof for POST on a GET)',
        make: async (client, token) => ({ proof: await proofFor(client, token, 'POST') }),
        description: OTHER_REQUEST,
      },
      {
        name: 'htu of another host',
        make: async (client, token) => ({
          proof: await proofFor(client, token, 'GET', 'https://evil.test/echo'),
        }),
        description: OTHER_REQUEST,
      },
      {
        name: 'htu of the Host the request was sent to, not the public URL',
        make: async (client, token, server) => ({
          proof: await tampered(client, await proofFor(client, token), (_, claims) => {
            claims.htu = `${server.url}/echo`;
          }),
        }),
        description: OTHER_REQUEST,
      },
      {
        name: 'htu of another path case (/ECHO)',
        make: async (client, token) => ({ proof: await proofFor(client, token, 'GET', `${PUBLIC}/ECHO`) }),
        description: OTHER_REQUEST,
      },
      {
        name: 'htu of another path, moved into the query',
        make: edit((_, claims) => {
          claims.htu = `${PUBLIC}/other?/echo`;
        }),
        description: OTHER_REQUEST,
      },
      {
        name: 'htu over http where the public URL is https',
        make: edit((_, claims) => {
          claims.htu = 'http://api.example.test/echo';
        }),
        description: OTHER_REQUEST,
      },
      {
        name: 'old iat (a client clock 1000 s behind)',
        make: async () => {
          const late = await dpopClient(-1000);
          const token = await bound(late);
          return { token, proof: await proofFor(late, token) };
        },
        description: 'The DPoP proof is too old or from the future',
      },
      {
        name: 'iat from the future (a client clock 1000 s ahead)',
        make: async () => {
          const early = await dpopClient(1000);
          const token = await bound(early);
          return { token, proof: await proofFor(early, token) };
        },
        description: 'The DPoP proof is too old or from the future',
      },
      {
        name: 'missing ath',
        make: edit((_, claims) => {
          delete claims.ath;
        }),
        description: 'The DPoP proof is not for this token',
      },
      {
        name: 'wrong ath (a proof made for another token)',
        make: async (client) => ({ proof: await proofFor(client, await bound(client, { sub: 'other' })) }),
        description: 'The DPoP proof is not for this token',
      },
      {
        name: 'wrong jkt (the token is bound to another client)',
        make: async (client) => {
          const other = await dpopClient();
          const token = await bound(other);
          return { token, proof: await proofFor(client, token) };
        },
        description: "The DPoP proof is not signed by the token's key",
      },
      {
        name: 'an HS256 proof',
        make: async (client, token) => {
          const [h, c] = (await proofFor(client, token)).split('.') as [string, string];
          const header = { ...decode(h), alg: 'HS256' };
          const input = `${encode(header)}.${c}`;
          const mac = createHmac('sha256', 'k'.repeat(32)).update(input).digest('base64url');
          return { proof: `${input}.${mac}` };
        },
        description: "The DPoP proof's algorithm is not accepted",
      },
      {
        name: 'alg none',
        make: async (client, token) => {
          const [h, c] = (await proofFor(client, token)).split('.') as [string, string];
          return { proof: `${encode({ ...decode(h), alg: 'none' })}.${c}.` };
        },
        description: INVALID,
      },
      {
        name: 'a private key in the jwk header',
        make: async (client, token) => {
          const d = (await crypto.subtle.exportKey('jwk', client.keyPair.privateKey)).d;
          return {
            proof: await tampered(client, await proofFor(client, token), (header) => {
              header.jwk = { ...(header.jwk as Json), d };
            }),
          };
        },
        description: INVALID,
      },
      {
        name: 'typ JWT instead of dpop+jwt',
        make: edit((header) => {
          header.typ = 'JWT';
        }),
        description: INVALID,
      },
      {
        name: 'no jti',
        make: edit((_, claims) => {
          delete claims.jti;
        }),
        description: INVALID,
      },
      {
        name: 'a signature that does not verify',
        make: async (client, token) => {
          const proof = await proofFor(client, token);
          const last = proof.at(-2) === 'A' ? 'B' : 'A';
          return { proof: `${proof.slice(0, -2)}${last}${proof.at(-1)}` };
        },
        description: "The DPoP proof's signature is not valid",
      },
      {
        name: 'two DPoP headers',
        make: async (client, token) => {
          const proof = await proofFor(client, token);
          return { proof: [proof, proof] };
        },
        description: 'Send exactly one DPoP proof',
      },
      {
        name: 'the DPoP scheme with no proof',
        make: async () => ({}),
        description: 'A DPoP proof is required',
      },
      {
        name: 'a proof larger than 8 KiB',
        make: async (client, token) => ({
          proof: await tampered(client, await proofFor(client, token), (_, claims) => {
            claims.pad = 'x'.repeat(9000);
          }),
        }),
        description: 'The DPoP proof is too large',
      },
    ];

    it.each(cases)('$name', async ({ make, description }) => {
      const server = await serve();
      const client = await dpopClient();
      const token = await bound(client);
      const made = await make(client, token, server);
      const res = await send(server, made.token ?? token, made.proof);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: 'invalid_dpop_proof', error_description: description });
      expect(challenges(res)).toEqual([refusal('invalid_dpop_proof', description)]);
    });
  });

  describe('confirmation methods (fail closed)', () => {
    it('cnf x5t#S256 without mtls, an unknown cnf method, a cnf that is not an object: refused', async () => {
      const server = await serve();
      for (const cnf of [{ 'x5t#S256': 'bm90LWEtY2VydA' }, { kid: 'k1' }, 'jkt', {}]) {
        const res = await rawGet(`${server.url}/echo`, {
          authorization: `Bearer ${await sign(issuerKey, { cnf })}`,
        });
        expect(res.status, JSON.stringify(cnf)).toBe(401);
        expect(JSON.parse(res.body).error).toBe('invalid_token');
      }
    });

    it('a cnf.jkt token at a jwtAuth without dpop: refused', async () => {
      const auth = framework.lib.jwtAuth({
        issuer: ISSUER,
        audiences: [AUDIENCE],
        jwks: { inline: jwks(issuerKey) },
      });
      cleanups.push(() => auth.close());
      const server = await framework.serve([auth]);
      cleanups.push(() => server.close());
      const client = await dpopClient();
      const res = await rawGet(`${server.url}/echo`, { authorization: `Bearer ${await bound(client)}` });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual({
        error: 'invalid_token',
        error_description: "The token's confirmation method is not accepted here",
      });
      // DPoP is not read there: the DPoP scheme is another credential, absent for jwtAuth.
      expect(challenges(await send(server, await bound(client)))).toEqual(['Bearer realm="api"']);
    });
  });

  describe.each([
    ['memory', async (): Promise<Store | undefined> => undefined],
    ['redis', async (): Promise<Store | undefined> => redisBacked()],
  ])('replay and nonces, %s replay cache', (_kind, storeOf) => {
    async function dpopOptions(extra: Record<string, unknown> = {}) {
      const store = await storeOf();
      if (store === undefined) return extra;
      const cache = replayCache({ store });
      cleanups.push(() => cache.close());
      return { replayCache: cache, ...extra };
    }

    it('the same proof twice: the second is refused', async () => {
      const server = await serve(await dpopOptions());
      const client = await dpopClient();
      const token = await bound(client);
      const proof = await proofFor(client, token);
      expect((await send(server, token, proof)).status).toBe(200);
      const again = await send(server, token, proof);
      expect(again.status).toBe(401);
      expect(challenges(again)).toEqual([refusal('invalid_dpop_proof', 'The DPoP proof was already used')]);
    });

    it('nonce: oauth4webapi gets use_dpop_nonce with a DPoP-Nonce, then succeeds with it', async () => {
      const server = await serve(await dpopOptions({ nonce: true }));
      const client = await dpopClient();
      const token = await bound(client);
      // Seen raw first: the refusal, its challenge and the nonce header.
      const raw = await send(server, token, await proofFor(client, token));
      expect(raw.status).toBe(401);
      const description = 'The DPoP proof must carry the nonce the server provides';
      expect(JSON.parse(raw.body)).toEqual({ error: 'use_dpop_nonce', error_description: description });
      expect(challenges(raw)).toEqual([refusal('use_dpop_nonce', description)]);
      expect(headerLines(raw.rawHeaders, 'dpop-nonce')[0]).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{24}$/);
      // Then oauth4webapi's own flow: it keeps the nonce from the 401 and retries.
      const first = await callThrough(server, client, token).catch((error: unknown) => error);
      expect(oauth.isDPoPNonceError(first)).toBe(true);
      const second = await callThrough(server, client, token);
      expect(second.status).toBe(200);
      // A nonce made up by the client is not one of ours.
      const forged = await tampered(client, await proofFor(client, token), (_, claims) => {
        claims.nonce = '0.AAAAAAAAAAAAAAAAAAAAAAAA';
      });
      expect(JSON.parse((await send(server, token, forged)).body).error).toBe('use_dpop_nonce');
    });

    it('a nonce from the previous time step is accepted, and a fresh DPoP-Nonce comes with the response', async () => {
      const secret = 'a-shared-nonce-secret-of-32-chars!';
      const server = await serve(await dpopOptions({ nonce: { secret, lifetimeSeconds: 300 } }));
      const client = await dpopClient();
      const token = await bound(client);
      // The nonce another replica sharing the secret issued one step (150 s) ago.
      const step = Math.floor(Date.now() / 150_000) - 1;
      const mac = createHmac('sha256', secret).update(`dpop-nonce:${step}`).digest().subarray(0, 18);
      const aging = `${step.toString(36)}.${mac.toString('base64url')}`;
      const proof = await tampered(client, await proofFor(client, token), (_, claims) => {
        claims.nonce = aging;
      });
      const res = await send(server, token, proof);
      expect(res.status).toBe(200);
      const fresh = headerLines(res.rawHeaders, 'dpop-nonce');
      expect(fresh).toHaveLength(1);
      expect(fresh[0]).not.toBe(aging);
    });

    it('nonces from a shared secret are accepted by another replica', async () => {
      const secret = 'a-shared-nonce-secret-of-32-chars!';
      const options = await dpopOptions({ nonce: { secret } });
      const a = await serve(options);
      const b = await serve(options);
      const client = await dpopClient();
      const token = await bound(client);
      const asked = await send(a, token, await proofFor(client, token));
      const nonce = headerLines(asked.rawHeaders, 'dpop-nonce')[0]!;
      const proof = await tampered(client, await proofFor(client, token), (_, claims) => {
        claims.nonce = nonce;
      });
      expect((await send(b, token, proof)).status).toBe(200);
    });
  });

  describe('Redis replay cache across replicas', () => {
    it('a proof used at one replica is refused at the other; Redis killed: 503, fail closed', async () => {
      const redis = await redisServer();
      const store = await redisStoreOn(redis);
      const options = { replayCache: replayCache({ store }) };
      const a = await serve(options);
      const b = await serve(options);
      const client = await dpopClient();
      const token = await bound(client);
      const proof = await proofFor(client, token);
      expect((await send(a, token, proof)).status).toBe(200);
      expect(JSON.parse((await send(b, token, proof)).body).error).toBe('invalid_dpop_proof');
      await redis.kill();
      const down = await send(a, token, await proofFor(client, token));
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body).error).toBe('temporarily_unavailable');
      expect(down.headers['retry-after']).toBe('5');
    });

    it('a jti is kept 2x iatWindowSeconds plus a 60 s margin for replica clocks (the PTTL in Redis)', async () => {
      const redis = await redisServer();
      const store = await redisStoreOn(redis);
      const server = await serve({ iatWindowSeconds: 100, replayCache: replayCache({ store }) });
      const client = await dpopClient();
      const token = await bound(client);
      expect((await send(server, token, await proofFor(client, token))).status).toBe(200);
      expect(await redis.command('DBSIZE')).toBe('1');
      const key = await redis.command('RANDOMKEY');
      expect(key).toContain('replay:');
      const ttl = Number(await redis.command('PTTL', key));
      // 2 x 100 s + 60 s: a replica up to a minute slow cannot accept the proof after its jti expired.
      expect(ttl).toBeGreaterThan(200_000);
      expect(ttl).toBeLessThanOrEqual(260_000);
    });
  });
});

// Redis for the tests that run against it: one server per test, stopped afterwards.
async function redisServer(): Promise<RedisServer> {
  const server = await startRedis();
  cleanups.push(() => server.stop());
  return server;
}

/** A store on a connected node-redis client, as an app makes one (reconnecting quickly). */
async function redisStoreOn(server: RedisServer): Promise<Store> {
  const client = createClient({
    url: server.url,
    socket: { reconnectStrategy: () => 50, connectTimeout: 500 },
  });
  client.on('error', () => undefined);
  await client.connect();
  cleanups.push(() => (client.isOpen ? client.destroy() : undefined));
  const store = redisStore({ client, commandTimeoutMs: 300, logger: { warn() {} } });
  cleanups.push(() => store.close());
  return store;
}

async function redisBacked(): Promise<Store> {
  return redisStoreOn(await redisServer());
}

describe('dpop options are checked at start-up, naming the field', () => {
  const lib = all[0]!.lib;
  const base = { issuer: ISSUER, jwks: { inline: { keys: [] } } };
  const field = (dpop: unknown, extra: Record<string, unknown> = {}) => {
    try {
      const auth = lib.jwtAuth({ ...base, ...extra, dpop } as never);
      void auth.close();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).field;
    }
    return 'accepted';
  };
  afterAll(() => undefined);

  it.each([
    ['HS256 in algorithms', { mode: 'allowed', publicUrl: PUBLIC, algorithms: ['HS256'] }, 'dpop.algorithms'],
    ['none in algorithms', { mode: 'allowed', publicUrl: PUBLIC, algorithms: ['none'] }, 'dpop.algorithms'],
    ['no publicUrl', { mode: 'allowed' }, 'dpop.publicUrl'],
    ['a publicUrl with a query', { mode: 'allowed', publicUrl: `${PUBLIC}/?a=1` }, 'dpop.publicUrl'],
    ['a relative publicUrl', { mode: 'allowed', publicUrl: '/api' }, 'dpop.publicUrl'],
    ['an unknown mode', { mode: 'optional', publicUrl: PUBLIC }, 'dpop.mode'],
    ['an unknown key', { mode: 'allowed', publicUrl: PUBLIC, htu: PUBLIC }, 'dpop.htu'],
    [
      'a short nonce secret',
      { mode: 'allowed', publicUrl: PUBLIC, nonce: { secret: 'short' } },
      'dpop.nonce.secret',
    ],
    [
      'a zero iat window',
      { mode: 'allowed', publicUrl: PUBLIC, iatWindowSeconds: 0 },
      'dpop.iatWindowSeconds',
    ],
  ])('%s', (_name, dpop, expected) => {
    expect(field(dpop)).toBe(expected);
  });

  it('a location other than Authorization is refused with dpop', () => {
    expect(field({ mode: 'allowed', publicUrl: PUBLIC }, { location: { cookie: { name: 'at' } } })).toBe(
      'location',
    );
  });

  it('a nonce secret from the environment', () => {
    const name = `DPOP_NONCE_${randomUUID().replaceAll('-', '_')}`;
    process.env[name] = 'n'.repeat(40);
    try {
      expect(field({ mode: 'allowed', publicUrl: PUBLIC, nonce: { secret: `$${name}` } })).toBe('accepted');
    } finally {
      delete process.env[name];
    }
  });
});
