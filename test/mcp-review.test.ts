import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/index.js';
import { frameworks, type TestServer } from './support/frameworks.js';
import { ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { rawGet } from './support/raw-request.js';

// Issue 14, hostile review of mcpAuth, DPoP and mTLS: each test here failed before the fix
// committed with it, on both adapters.

const all = await frameworks();

const RESOURCE = 'https://mcp.example.test/mcp';
const AS = 'https://auth.example.test';

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256');
});

/** A POST with exactly these headers and body. */
function send(
  url: string,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function refusedField(build: () => unknown): ConfigError {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

describe.each(all)('mcpAuth review on $name', (framework) => {
  const { mcpAuth } = framework.lib;
  const servers: TestServer[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await Promise.all(closers.map((close) => close()));
  });

  async function serve(options: Parameters<typeof mcpAuth>[0]): Promise<string> {
    const mcp = mcpAuth(options);
    closers.push(() => mcp.close());
    const server = await framework.serve([mcp]);
    servers.push(server);
    return server.url;
  }

  describe('resource is the identifier clients send back as the token audience', () => {
    // The MCP SDK client sends `new URL(metadata.resource).href` as the RFC 8707 `resource`, and
    // the authorization server mints that string into `aud`: a resource written in any other
    // form (no root slash, upper-case host, default port, dot segments) is a resource whose
    // every token is refused. Refused at start-up, naming the canonical form.
    it('a resource not written in its canonical URL form is a ConfigError naming it', () => {
      for (const [given, canonical] of [
        ['https://mcp.example.test', 'https://mcp.example.test/'],
        ['https://MCP.example.test/mcp', 'https://mcp.example.test/mcp'],
        ['https://mcp.example.test:443/mcp', 'https://mcp.example.test/mcp'],
        ['https://mcp.example.test/a/../mcp', 'https://mcp.example.test/mcp'],
        ['http://localhost:80/mcp', 'http://localhost/mcp'],
      ] as const) {
        const error = refusedField(() =>
          mcpAuth({
            resource: given,
            authorizationServers: [AS],
            issuer: ISSUER,
            jwks: { inline: jwks(key) },
          }),
        );
        expect(error.field).toBe('resource');
        expect(error.problem).toContain(`"${canonical}"`);
      }
    });

    it('the canonical form is accepted, and a token for the audience the SDK asks for passes', async () => {
      const resource = 'https://mcp.example.test/';
      const url = await serve({
        resource,
        authorizationServers: [AS],
        issuer: ISSUER,
        jwks: { inline: jwks(key) },
      });
      const metadata = JSON.parse((await rawGet(`${url}/.well-known/oauth-protected-resource`)).body) as {
        resource: string;
      };
      // What the SDK client asks the authorization server for (selectResourceURL).
      const audience = new URL(metadata.resource).href;
      const token = await sign(key, {}, { audience });
      const reply = await rawGet(`${url}/`, { authorization: `Bearer ${token}` });
      expect(reply.status).toBe(200);
    });
  });

  describe('the Entra v2 preset', () => {
    // Entra writes the application ID in `aud` in lower case; a GUID copied in upper case (the
    // schema accepts it) must not refuse every token.
    it('an upper-case clientId GUID still accepts the lower-case aud Entra mints', async () => {
      const tenantId = '72F988BF-86F1-41AF-91AB-2D7CD011DB47';
      const clientId = 'ABCDEF00-1111-2222-3333-444444444444';
      const url = await serve({
        resource: RESOURCE,
        entra: { tenantId, clientId },
        jwks: { inline: jwks(key) },
      });
      const token = await sign(
        key,
        { scp: 'mcp' },
        {
          issuer: `https://login.microsoftonline.com/${tenantId.toLowerCase()}/v2.0`,
          audience: clientId.toLowerCase(),
        },
      );
      const reply = await rawGet(`${url}/mcp`, { authorization: `Bearer ${token}` });
      expect(reply.status).toBe(200);
    });

    it('audiences naming the same client ID in another case is no conflict', () => {
      const mcp = mcpAuth({
        resource: RESOURCE,
        entra: {
          tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
          clientId: 'ABCDEF00-1111-2222-3333-444444444444',
        },
        audiences: ['abcdef00-1111-2222-3333-444444444444'],
        jwks: { inline: jwks(key) },
      });
      closers.push(() => mcp.close());
      expect(mcp.metadata.resource).toBe(RESOURCE);
    });
  });

  describe('the 2026-07-28 mirrored headers', () => {
    // An Mcp-Name in the =?base64?...?= form whose bytes are not UTF-8 names no tool: it must
    // not match a body whose tool name is that literal text (the header then says one thing
    // and the body another, which an intermediary must refuse: 400, -32020).
    it('an Mcp-Name whose base64 is not UTF-8 does not match the same text in the body', async () => {
      const url = await serve({
        resource: RESOURCE,
        authorizationServers: [AS],
        issuer: ISSUER,
        jwks: { inline: jwks(key) },
        scopes: { required: ['mcp'] },
      });
      const token = await sign(key, { scope: 'mcp' }, { audience: RESOURCE });
      const literal = '=?base64?/w==?=';
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: literal, arguments: {} },
      });
      const reply = await send(`${url}/mcp`, body, {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': literal,
      });
      expect(reply.status).toBe(400);
      expect((JSON.parse(reply.body) as { error: { code: number } }).error.code).toBe(-32020);
    });
  });

  describe('judged fine: regression guards for attacks that failed', () => {
    const base = () => ({
      resource: RESOURCE,
      authorizationServers: [AS],
      issuer: ISSUER,
      jwks: { inline: jwks(key) },
    });

    it('a DPoP-bound token, once accepted (and cached), is refused as Bearer, with its proof replayed, or with a POST proof on GET', async () => {
      const url = await serve({ ...base(), dpop: { mode: 'allowed' } });
      const keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
      const handle = oauth.DPoP({}, keyPair);
      const token = await sign(
        key,
        { cnf: { jkt: await handle.calculateThumbprint() } },
        { audience: RESOURCE },
      );
      const proofFor = async (method: string) => {
        let proof: string | null = null;
        await oauth.protectedResourceRequest(token, method, new URL(RESOURCE), new Headers(), null, {
          DPoP: handle,
          [oauth.customFetch]: async (_url, options) => {
            proof = new Headers(options.headers).get('dpop');
            return new Response('{}', { status: 200 });
          },
        });
        return proof as unknown as string;
      };
      const proof = await proofFor('GET');
      expect((await rawGet(`${url}/mcp`, { authorization: `DPoP ${token}`, dpop: proof })).status).toBe(200);
      const asBearer = await rawGet(`${url}/mcp`, { authorization: `Bearer ${token}` });
      expect([asBearer.status, JSON.parse(asBearer.body).error]).toEqual([401, 'invalid_token']);
      const replayed = await rawGet(`${url}/mcp`, { authorization: `DPoP ${token}`, dpop: proof });
      expect([replayed.status, JSON.parse(replayed.body).error]).toEqual([401, 'invalid_dpop_proof']);
      const otherMethod = await rawGet(`${url}/mcp`, {
        authorization: `DPoP ${token}`,
        dpop: await proofFor('POST'),
      });
      expect([otherMethod.status, JSON.parse(otherMethod.body).error]).toEqual([401, 'invalid_dpop_proof']);
    });

    it('query tokens in other spellings are refused too', async () => {
      const url = await serve(base());
      for (const query of ['ACCESS_TOKEN=x', 'access_token[]=x', 'access%5Ftoken=x']) {
        const reply = await rawGet(`${url}/mcp?${query}`);
        expect([query, reply.status, JSON.parse(reply.body).error]).toEqual([query, 400, 'invalid_request']);
      }
    });

    it('duplicate JSON keys and batches: the scopes are those of what JSON.parse (the SDK) sees', async () => {
      const url = await serve({ ...base(), scopes: { required: ['mcp'], tools: { deploy: ['deploy'] } } });
      const token = await sign(key, { scope: 'mcp' }, { audience: RESOURCE });
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const duplicate =
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"deploy"}}';
      expect((await send(`${url}/mcp`, duplicate, headers)).status).toBe(403);
      const batch = JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'deploy' } },
      ]);
      const reply = await send(`${url}/mcp`, batch, headers);
      expect([reply.status, JSON.parse(reply.body).scope]).toEqual([403, 'mcp deploy']);
    });
  });

  describe('URL options are checked by one rule set, each refusal naming its field', () => {
    // dpop.publicUrl, resource and authorizationServers share src/config/url-option.ts.
    const options = (extra: Record<string, unknown>) => ({
      resource: RESOURCE,
      authorizationServers: [AS],
      issuer: ISSUER,
      jwks: { inline: jwks(key) },
      ...extra,
    });
    it('each bad URL is a ConfigError naming the field, with the sentence of that field', () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [
          { dpop: { mode: 'allowed', publicUrl: 'https://api.example.test/?x=1' } },
          'dpop.publicUrl',
          /htu is compared without them/,
        ],
        [
          { dpop: { mode: 'allowed', publicUrl: 'https://api.example.test#' } },
          'dpop.publicUrl',
          /htu is compared without them/,
        ],
        [
          { dpop: { mode: 'allowed', publicUrl: 'https://u:p@api.example.test' } },
          'dpop.publicUrl',
          /credentials/,
        ],
        [
          { dpop: { mode: 'allowed', publicUrl: 'ftp://api.example.test' } },
          'dpop.publicUrl',
          /http or https/,
        ],
        [{ dpop: { mode: 'allowed', publicUrl: '/relative' } }, 'dpop.publicUrl', /absolute URL/],
        [{ resource: 'https://u@mcp.example.test/mcp' }, 'resource', /user name or password/],
        [{ resource: 'http://mcp.example.test/mcp' }, 'resource', /must use https/],
        [{ resource: 'https://mcp.example.test/mcp?' }, 'resource', /query/],
        [{ resource: 'https://mcp.example.test/mcp#' }, 'resource', /fragment \(RFC 8707/],
        [
          { authorizationServers: ['https://auth.example.test?'] },
          'authorizationServers',
          /\[0\] must not contain a query or fragment \(RFC 8414\)/,
        ],
        [
          { authorizationServers: [AS, 'http://auth.example.test'] },
          'authorizationServers',
          /\[1\] must use https/,
        ],
        [{ authorizationServers: ['auth'] }, 'authorizationServers', /not an absolute URL/],
      ];
      for (const [extra, field, problem] of cases) {
        const error = refusedField(() => mcpAuth(options(extra) as Parameters<typeof mcpAuth>[0]));
        expect([JSON.stringify(extra), error.field]).toEqual([JSON.stringify(extra), field]);
        expect(error.problem).toMatch(problem);
      }
      // Plain http stays allowed where it was: any host for publicUrl, loopback for the others.
      const ok = mcpAuth(
        options({
          resource: 'http://127.0.0.1:8080/mcp',
          authorizationServers: ['http://localhost:9000'],
          dpop: { mode: 'allowed', publicUrl: 'http://gateway.internal' },
        }) as Parameters<typeof mcpAuth>[0],
      );
      closers.push(() => ok.close());
      expect(ok.metadata.resource).toBe('http://127.0.0.1:8080/mcp');
    });
  });

  describe('a content-coded raw body', () => {
    // mcpAuth never inflates a body itself (a few KB of gzip can inflate to gigabytes): a coded
    // body with no body parser before it is a 415 that says what to do, not a JSON-RPC -32700.
    const options = () => ({
      resource: RESOURCE,
      authorizationServers: [AS],
      issuer: ISSUER,
      jwks: { inline: jwks(key) },
      scopes: { required: ['mcp'], tools: { deploy: ['deploy'] } },
    });
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'deploy' } });

    it('gzip, br, deflate or several codings, with no body parser before mcpAuth: 415 invalid_request', async () => {
      const url = await serve(options());
      const token = await sign(key, { scope: 'mcp deploy' }, { audience: RESOURCE });
      const coded: [string, Buffer][] = [
        ['gzip', gzipSync(call)],
        ['br', brotliCompressSync(call)],
        ['deflate', deflateSync(call)],
        ['GZIP', gzipSync(call)],
        ['identity, gzip', gzipSync(call)],
        ['gzip, br', brotliCompressSync(gzipSync(call))],
      ];
      for (const [encoding, body] of coded) {
        const reply = await send(`${url}/mcp`, body, {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-encoding': encoding,
        });
        const parsed = JSON.parse(reply.body) as { error: string; error_description: string };
        expect([encoding, reply.status, parsed.error]).toEqual([encoding, 415, 'invalid_request']);
        expect(parsed.error_description).toMatch(/body parser that inflates must run before mcpAuth/);
      }
      const identity = await send(`${url}/mcp`, call, {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-encoding': 'identity',
      });
      expect(identity.status).toBe(200);
    });

    it('after a body parser that inflated it, its result is what is checked', async () => {
      const parser = framework.name.startsWith('express')
        ? (await import(framework.name === 'express4' ? 'express4' : 'express')).default.json()
        : (await import('@koa/bodyparser')).bodyParser();
      const mcp = mcpAuth(options());
      closers.push(() => mcp.close());
      const server = await framework.serve([parser, mcp]);
      servers.push(server);
      const headers = (token: string) => ({
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      const weak = await sign(key, { scope: 'mcp' }, { audience: RESOURCE });
      const strong = await sign(key, { scope: 'mcp deploy' }, { audience: RESOURCE });
      const refused = await send(`${server.url}/mcp`, gzipSync(call), headers(weak));
      expect([refused.status, JSON.parse(refused.body).error]).toEqual([403, 'insufficient_scope']);
      expect((await send(`${server.url}/mcp`, gzipSync(call), headers(strong))).status).toBe(200);
    });
  });

  describe('a refused query-string token', () => {
    // Refused (400), and stripped before the refusal: an app's error handler or logger that runs
    // after mcpAuth (delegateErrors) sees no token in url, originalUrl or the parsed query.
    it('is gone from every view of the URL the error handler after mcpAuth sees, in every spelling', async () => {
      const mcp = mcpAuth({
        resource: RESOURCE,
        authorizationServers: [AS],
        issuer: ISSUER,
        jwks: { inline: jwks(key) },
        delegateErrors: true,
      });
      closers.push(() => mcp.close());
      const express = framework.name.startsWith('express');
      const seen = (view: Record<string, unknown>) => JSON.stringify({ handledBy: 'app', ...view });
      const handler = express
        ? (
            error: { status?: number },
            req: { url: string; originalUrl: string; query: unknown },
            res: { status(code: number): { type(t: string): { send(body: string): void } } },
            _next: unknown,
          ) => {
            res
              .status(error.status ?? 500)
              .type('json')
              .send(seen({ url: req.url, originalUrl: req.originalUrl, query: req.query }));
          }
        : async (
            ctx: {
              url: string;
              originalUrl: string;
              href: string;
              querystring: string;
              query: unknown;
              request: { URL: URL };
              status: number;
              type: string;
              body: string;
            },
            next: () => Promise<void>,
          ) => {
            try {
              await next();
            } catch (error) {
              ctx.status = (error as { status?: number }).status ?? 500;
              ctx.type = 'json';
              ctx.body = seen({
                url: ctx.url,
                originalUrl: ctx.originalUrl,
                href: ctx.href,
                querystring: ctx.querystring,
                query: ctx.query,
                URL: ctx.request.URL.href,
              });
            }
          };
      const server = await framework.serve(express ? [mcp, handler] : [handler, mcp]);
      servers.push(server);
      const secret = 'eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2Vu.c2ln';
      for (const query of [
        `access_token=${secret}&page=2`,
        `ACCESS_TOKEN=${secret}&page=2`,
        `access_token[]=${secret}&page=2`,
      ]) {
        const reply = await rawGet(`${server.url}/mcp?${query}`);
        const seenByApp = JSON.parse(reply.body) as { handledBy: string; url: string };
        expect([query, reply.status, seenByApp.handledBy]).toEqual([query, 400, 'app']);
        expect(seenByApp.url).toBe('/mcp?page=2');
        expect(reply.body).not.toContain('c2VjcmV0LXRva2Vu');
      }
    });
  });

  describe('DPoP proof keys', () => {
    // An RSA key with public exponent 1 "verifies" any signature equal to the padded digest:
    // anyone holding a token bound to it can make its proofs, so the binding proves nothing.
    it('an RSA proof key with e=1 is refused (its proofs can be forged without any private key)', async () => {
      const url = await serve({
        resource: RESOURCE,
        authorizationServers: [AS],
        issuer: ISSUER,
        jwks: { inline: jwks(key) },
        dpop: { mode: 'allowed' },
      });
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const { n } = publicKey.export({ format: 'jwk' }) as { n: string };
      const jwk = { kty: 'RSA', n, e: 'AQ' };
      const jkt = createHash('sha256')
        .update(JSON.stringify({ e: 'AQ', kty: 'RSA', n }))
        .digest('base64url');
      const token = await sign(key, { cnf: { jkt } }, { audience: RESOURCE });
      const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const input = `${b64({ typ: 'dpop+jwt', alg: 'RS256', jwk })}.${b64({
        jti: randomUUID(),
        htm: 'GET',
        htu: RESOURCE,
        iat: Math.floor(Date.now() / 1000),
        ath: createHash('sha256').update(token).digest('base64url'),
      })}`;
      // EMSA-PKCS1-v1_5 of SHA-256(input), 256 bytes: with e = 1 it is its own signature.
      const digestInfo = Buffer.concat([
        Buffer.from('3031300d060960864801650304020105000420', 'hex'),
        createHash('sha256').update(input).digest(),
      ]);
      const padded = Buffer.concat([
        Buffer.from([0, 1]),
        Buffer.alloc(256 - 3 - digestInfo.length, 0xff),
        Buffer.from([0]),
        digestInfo,
      ]);
      const proof = `${input}.${padded.toString('base64url')}`;
      const reply = await rawGet(`${url}/mcp`, { authorization: `DPoP ${token}`, dpop: proof });
      expect(reply.status).toBe(401);
      expect(JSON.parse(reply.body).error).toBe('invalid_dpop_proof');
    });
  });
});
