import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/index.js';
import { frameworks, type TestServer } from './support/frameworks.js';
import { JwksServer } from './support/jwks-server.js';
import { ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { type RecordingUpstream, startRecordingUpstream } from './support/recording-upstream.js';

// Issue 14, mcpAuth: RFC 9728 metadata, MCP challenges, per-method and per-tool scopes read
// from the 2026-07-28 mirrored headers (checked against the body) or from the body, on both
// adapters, with tokens signed here and keys served by a real JWKS server.

const all = await frameworks();

const RESOURCE = 'https://mcp.example.test/mcp';
const METADATA_URL = 'https://mcp.example.test/.well-known/oauth-protected-resource/mcp';
const AS = 'https://auth.example.test';
const MODERN = '2026-07-28';
const OLDER = '2025-11-25';

let key: TestKey;
let keys: JwksServer;

beforeAll(async () => {
  key = await makeKey('ES256');
  keys = await new JwksServer().start();
  keys.document = jwks(key);
});
afterAll(() => keys.stop());

/** A token for the MCP resource with these scopes (space-separated `scope`). */
const token = (scope: string, audience: string | string[] = RESOURCE) => sign(key, { scope }, { audience });

const SCOPES = {
  required: ['mcp'],
  methods: { 'tools/list': ['mcp:read'] },
  tools: { deploy: ['deploy'], 'weather/東京': ['weather'] },
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: string;
  json: () => Record<string, unknown>;
}

/** One request with headers exactly as given (pairs may repeat a name) and an optional body. */
function send(
  url: string,
  options: { method?: string; headers?: [string, string][]; body?: string | Buffer } = {},
): Promise<Reply> {
  // A name given twice goes out as two header lines (Node sends an array value that way).
  const grouped: Record<string, string[]> = {};
  for (const [name, value] of options.headers ?? []) {
    const lower = name.toLowerCase();
    grouped[lower] = [...(grouped[lower] ?? []), value];
  }
  if (options.body !== undefined) grouped['content-length'] = [String(Buffer.byteLength(options.body))];
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'POST', headers: grouped }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          json: () => JSON.parse(body) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const rpc = (method: string, params?: Record<string, unknown>, id: number | string = 1) =>
  ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }) as const;

/** Headers of a JSON-RPC POST: the bearer token, the version, and the mirrored headers if given. */
function headers(
  bearer: string | undefined,
  version: string | undefined,
  mirrored: { method?: string; name?: string } = {},
): [string, string][] {
  const list: [string, string][] = [
    ['content-type', 'application/json'],
    ['accept', 'application/json, text/event-stream'],
  ];
  if (bearer !== undefined) list.push(['authorization', `Bearer ${bearer}`]);
  if (version !== undefined) list.push(['mcp-protocol-version', version]);
  if (mirrored.method !== undefined) list.push(['mcp-method', mirrored.method]);
  if (mirrored.name !== undefined) list.push(['mcp-name', mirrored.name]);
  return list;
}

const wwwAuthenticate = (reply: Reply) =>
  reply.rawHeaders.filter((_, i, raw) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'www-authenticate');

describe.each(all)('mcpAuth on $name', (framework) => {
  const { mcpAuth } = framework.lib;
  const servers: TestServer[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await Promise.all(closers.map((close) => close()));
  });

  const options = () => ({
    resource: RESOURCE,
    authorizationServers: [AS],
    issuer: ISSUER,
    jwks: { url: keys.url },
    scopes: SCOPES,
  });

  async function serve(middlewares: unknown[] = [], extra: Record<string, unknown> = {}): Promise<string> {
    const mcp = mcpAuth({ ...options(), ...extra });
    closers.push(() => mcp.close());
    const server = await framework.serve([...middlewares, mcp]);
    servers.push(server);
    return server.url;
  }

  let base: string;
  beforeAll(async () => {
    base = await serve();
  });

  describe('RFC 9728 metadata', () => {
    it('is served at the path-inserted and at the root well-known URL, with CORS', async () => {
      for (const path of [
        '/.well-known/oauth-protected-resource/mcp',
        '/.well-known/oauth-protected-resource',
      ]) {
        const reply = await send(`${base}${path}`, {
          method: 'GET',
          headers: [['origin', 'https://app.example']],
        });
        expect(reply.status).toBe(200);
        expect(reply.headers['access-control-allow-origin']).toBe('*');
        expect(reply.headers['content-type']).toMatch(/^application\/json/);
        expect(reply.json()).toEqual({
          resource: RESOURCE,
          authorization_servers: [AS],
          scopes_supported: ['mcp', 'mcp:read', 'deploy', 'weather'],
          bearer_methods_supported: ['header'],
          resource_signing_alg_values_supported: expect.arrayContaining(['ES256', 'RS256']),
        });
      }
    });

    it('answers the CORS preflight with 204, HEAD without a body, and 405 for other methods', async () => {
      const path = `${base}/.well-known/oauth-protected-resource/mcp`;
      const preflight = await send(path, {
        method: 'OPTIONS',
        headers: [
          ['origin', 'https://app.example'],
          ['access-control-request-method', 'GET'],
          ['access-control-request-headers', 'mcp-protocol-version'],
        ],
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('*');
      expect(preflight.headers['access-control-allow-methods']).toContain('GET');
      expect(preflight.headers['access-control-allow-headers']).toContain('mcp-protocol-version');
      const head = await send(path, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
      const post = await send(path, { method: 'POST', body: '{}' });
      expect(post.status).toBe(405);
      expect(post.headers.allow).toBe('GET, HEAD, OPTIONS');
    });

    it('is the frozen document on the middleware, and metadataHandler serves it in front of a route', async () => {
      const mcp = mcpAuth(options());
      closers.push(() => mcp.close());
      expect(Object.isFrozen(mcp.metadata)).toBe(true);
      expect(mcp.metadata.resource).toBe(RESOURCE);
      const server = await framework.serve([mcp.metadataHandler]);
      servers.push(server);
      const document = await send(`${server.url}/.well-known/oauth-protected-resource/mcp`, {
        method: 'GET',
      });
      expect(document.json().resource).toBe(RESOURCE);
      const other = await send(`${server.url}/elsewhere`, { method: 'GET' });
      expect(other.status).toBe(200);
      expect(other.json().auth).toBeNull();
    });
  });

  describe('401 challenges', () => {
    it('no token: resource_metadata and the required scope, no error (RFC 6750 section 3.1)', async () => {
      const reply = await send(`${base}/mcp`, {
        headers: headers(undefined, OLDER),
        body: JSON.stringify(rpc('tools/list')),
      });
      expect(reply.status).toBe(401);
      expect(wwwAuthenticate(reply)).toEqual([`Bearer resource_metadata="${METADATA_URL}", scope="mcp"`]);
      expect(reply.json().error).toBe('credentials_missing');
    });

    it("no token with the 2026-07-28 headers: the scope is the operation's, known without the body", async () => {
      const reply = await send(`${base}/mcp`, {
        headers: headers(undefined, MODERN, { method: 'tools/call', name: 'deploy' }),
        body: JSON.stringify(rpc('tools/call', { name: 'deploy' })),
      });
      expect(reply.status).toBe(401);
      expect(wwwAuthenticate(reply)).toEqual([
        `Bearer resource_metadata="${METADATA_URL}", scope="mcp deploy"`,
      ]);
    });

    it('a bad token: the same challenge with error="invalid_token", the body saying the same', async () => {
      const reply = await send(`${base}/mcp`, {
        headers: headers('not-a-jwt', OLDER),
        body: JSON.stringify(rpc('ping')),
      });
      expect(reply.status).toBe(401);
      const [challenge] = wwwAuthenticate(reply);
      expect(challenge).toMatch(
        new RegExp(
          `^Bearer resource_metadata="${METADATA_URL}", scope="mcp", error="invalid_token", error_description="[^"]+"$`,
        ),
      );
      expect(reply.json().error).toBe('invalid_token');
    });

    it('a token for another audience is refused: the audience must be the resource (RFC 8707)', async () => {
      const other = await token('mcp', 'https://other.example.test/mcp');
      const reply = await send(`${base}/mcp`, {
        headers: headers(other, OLDER),
        body: JSON.stringify(rpc('ping')),
      });
      expect(reply.status).toBe(401);
      expect(wwwAuthenticate(reply)[0]).toContain('error="invalid_token"');
    });

    it('an empty scope list leaves the scope attribute out', async () => {
      const url = await serve([], { scopes: {} });
      const reply = await send(`${url}/mcp`, { headers: headers(undefined, OLDER), body: '{}' });
      expect(wwwAuthenticate(reply)).toEqual([`Bearer resource_metadata="${METADATA_URL}"`]);
    });
  });

  describe('scopes per method and per tool', () => {
    it('2026-07-28: the mirrored headers that match the body pass; the app sees the body untouched', async () => {
      const bearer = await token('mcp deploy');
      const body = JSON.stringify(rpc('tools/call', { name: 'deploy', arguments: {} }));
      const reply = await send(`${base}/mcp`, {
        headers: headers(bearer, MODERN, { method: 'tools/call', name: 'deploy' }),
        body,
      });
      expect(reply.status).toBe(200);
      expect((reply.json().auth as { subject: string }).subject).toBe('alice');
    });

    it('403 insufficient_scope names every scope the operation needs, in the challenge and the body', async () => {
      const bearer = await token('mcp');
      const body = JSON.stringify(rpc('tools/call', { name: 'deploy' }));
      const reply = await send(`${base}/mcp`, {
        headers: headers(bearer, MODERN, { method: 'tools/call', name: 'deploy' }),
        body,
      });
      expect(reply.status).toBe(403);
      expect(wwwAuthenticate(reply)).toEqual([
        `Bearer error="insufficient_scope", scope="mcp deploy", resource_metadata="${METADATA_URL}", error_description="This operation needs the scope(s): mcp deploy"`,
      ]);
      expect(reply.json()).toEqual({
        error: 'insufficient_scope',
        error_description: 'This operation needs the scope(s): mcp deploy',
        scope: 'mcp deploy',
      });
    });

    it('2026-07-28: a header that disagrees with the body is 400 JSON-RPC -32020, with the request id', async () => {
      const bearer = await token('mcp deploy mcp:read');
      const cases = [
        { mirrored: { method: 'tools/list' }, message: rpc('tools/call', { name: 'deploy' }, 7) },
        {
          mirrored: { method: 'tools/call', name: 'harmless' },
          message: rpc('tools/call', { name: 'deploy' }, 7),
        },
        { mirrored: { method: 'tools/call' }, message: rpc('tools/call', { name: 'deploy' }, 7) },
      ];
      for (const { mirrored, message } of cases) {
        const reply = await send(`${base}/mcp`, {
          headers: headers(bearer, MODERN, mirrored),
          body: JSON.stringify(message),
        });
        expect(reply.status).toBe(400);
        const answer = reply.json() as {
          jsonrpc: string;
          id: unknown;
          error: { code: number; message: string };
        };
        expect(answer.jsonrpc).toBe('2.0');
        expect(answer.id).toBe(7);
        expect(answer.error.code).toBe(-32020);
      }
    });

    it('2026-07-28: a missing or repeated Mcp-Method is -32020 (after the token is checked)', async () => {
      const bearer = await token('mcp mcp:read');
      const body = JSON.stringify(rpc('tools/list'));
      const missing = await send(`${base}/mcp`, { headers: headers(bearer, MODERN), body });
      expect(missing.status).toBe(400);
      expect((missing.json().error as { code: number }).code).toBe(-32020);
      const twice = await send(`${base}/mcp`, {
        headers: [...headers(bearer, MODERN, { method: 'tools/list' }), ['Mcp-Method', 'tools/call']],
        body,
      });
      expect(twice.status).toBe(400);
      expect((twice.json().error as { code: number }).code).toBe(-32020);
      // Without a token, the answer is still the 401.
      const anonymous = await send(`${base}/mcp`, { headers: headers(undefined, MODERN), body });
      expect(anonymous.status).toBe(401);
    });

    it('2026-07-28: a base64-encoded Mcp-Name is decoded before it is compared', async () => {
      const bearer = await token('mcp weather');
      const name = 'weather/東京';
      const encoded = `=?base64?${Buffer.from(name).toString('base64')}?=`;
      const body = JSON.stringify(rpc('tools/call', { name }));
      const reply = await send(`${base}/mcp`, {
        headers: headers(bearer, MODERN, { method: 'tools/call', name: encoded }),
        body,
      });
      expect(reply.status).toBe(200);
      const without = await send(`${base}/mcp`, {
        headers: headers(await token('mcp'), MODERN, { method: 'tools/call', name: encoded }),
        body,
      });
      expect(without.status).toBe(403);
      expect(without.json().scope).toBe('mcp weather');
    });

    it('older versions: the scopes come from the body (headers, if any, are not trusted)', async () => {
      const bearer = await token('mcp');
      const body = JSON.stringify(rpc('tools/call', { name: 'deploy' }));
      // A client lying in headers it need not send gains nothing.
      const reply = await send(`${base}/mcp`, { headers: headers(bearer, OLDER, { method: 'ping' }), body });
      expect(reply.status).toBe(403);
      expect(reply.json().scope).toBe('mcp deploy');
      const list = await send(`${base}/mcp`, {
        headers: headers(bearer, OLDER),
        body: JSON.stringify(rpc('tools/list')),
      });
      expect(list.status).toBe(403);
      expect(list.json().scope).toBe('mcp mcp:read');
      const ping = await send(`${base}/mcp`, {
        headers: headers(bearer, undefined),
        body: JSON.stringify(rpc('ping')),
      });
      expect(ping.status).toBe(200);
    });

    it("a batch needs the union of every message's scopes", async () => {
      const batch = JSON.stringify([
        rpc('tools/list', undefined, 1),
        rpc('tools/call', { name: 'deploy' }, 2),
      ]);
      const partial = await send(`${base}/mcp`, {
        headers: headers(await token('mcp mcp:read'), OLDER),
        body: batch,
      });
      expect(partial.status).toBe(403);
      expect(partial.json().scope).toBe('mcp mcp:read deploy');
      const enough = await send(`${base}/mcp`, {
        headers: headers(await token('mcp mcp:read deploy'), OLDER),
        body: batch,
      });
      expect(enough.status).toBe(200);
    });

    it('unparseable JSON is -32700; a body larger than maxBodyBytes is 413', async () => {
      const bearer = await token('mcp');
      const broken = await send(`${base}/mcp`, { headers: headers(bearer, OLDER), body: '{"jsonrpc":' });
      expect(broken.status).toBe(400);
      expect((broken.json().error as { code: number }).code).toBe(-32700);
      const small = await serve([], { maxBodyBytes: 64 });
      const large = JSON.stringify(
        rpc('tools/call', { name: 'deploy', arguments: { pad: 'x'.repeat(200) } }),
      );
      const tooLarge = await send(`${small}/mcp`, { headers: headers(bearer, OLDER), body: large });
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.json().error).toBe('request_too_large');
    });

    it('GET (the SSE stream) and DELETE (session end) need only the required scopes', async () => {
      const bearer = await token('mcp');
      for (const method of ['GET', 'DELETE']) {
        const reply = await send(`${base}/mcp`, { method, headers: [['authorization', `Bearer ${bearer}`]] });
        expect(reply.status).toBe(200);
      }
      const none = await send(`${base}/mcp`, {
        method: 'GET',
        headers: [['authorization', `Bearer ${await token('other')}`]],
      });
      expect(none.status).toBe(403);
      expect(none.json().scope).toBe('mcp');
    });
  });

  describe('a body parser that ran before mcpAuth', () => {
    const parser = async () =>
      framework.name.startsWith('express')
        ? (await import(framework.name === 'express4' ? 'express4' : 'express')).default.json()
        : (await import('@koa/bodyparser')).bodyParser();

    it('its parsed body is what is authorized', async () => {
      const url = await serve([await parser()]);
      const body = JSON.stringify(rpc('tools/call', { name: 'deploy' }));
      const refused = await send(`${url}/mcp`, { headers: headers(await token('mcp'), OLDER), body });
      expect(refused.status).toBe(403);
      expect(refused.json().scope).toBe('mcp deploy');
      const mismatch = await send(`${url}/mcp`, {
        headers: headers(await token('mcp deploy mcp:read'), MODERN, { method: 'tools/list' }),
        body,
      });
      expect((mismatch.json().error as { code: number }).code).toBe(-32020);
      const allowed = await send(`${url}/mcp`, { headers: headers(await token('mcp deploy'), OLDER), body });
      expect(allowed.status).toBe(200);
    });
  });

  describe('what MCP forbids', () => {
    it('a token in the query string is 400 invalid_request, never stripped and passed on', async () => {
      const bearer = await token('mcp');
      for (const query of [`access_token=${bearer}`, `ACCESS_TOKEN=${bearer}`, `access_token[]=${bearer}`]) {
        const reply = await send(`${base}/mcp?${query}`, { method: 'GET' });
        expect(reply.status).toBe(400);
        expect(reply.json().error).toBe('invalid_request');
        expect(wwwAuthenticate(reply)[0]).toContain('error="invalid_request"');
      }
    });

    it('backendAuth({ passthrough }) behind mcpAuth refuses (502) and logs the MCP rule', async () => {
      const upstream: RecordingUpstream = await startRecordingUpstream();
      closers.push(() => upstream.close());
      const warnings: string[] = [];
      const mcp = mcpAuth(options());
      closers.push(() => mcp.close());
      const backend = framework.lib.backendAuth({
        passthrough: true,
        logger: { warn: (line: string) => warnings.push(line) },
      });
      const server = await framework.serve([mcp, backend], { forwardTo: upstream.url });
      servers.push(server);
      const bearer = await token('mcp');
      const reply = await send(`${server.url}/mcp`, {
        headers: headers(bearer, OLDER),
        body: JSON.stringify(rpc('ping')),
      });
      expect(reply.status).toBe(502);
      expect(reply.json().error).toBe('backend_credentials_failed');
      expect(upstream.received).toHaveLength(0);
      expect(warnings.join('\n')).toContain('token passthrough');
      expect(warnings.join('\n')).not.toContain(bearer);
    });
  });

  describe('start-up checks', () => {
    const base = () => ({
      resource: RESOURCE,
      authorizationServers: [AS],
      issuer: ISSUER,
      jwks: { url: keys.url },
    });
    const refused = (options: Record<string, unknown>, field: string, problem?: RegExp) => {
      let caught: unknown;
      try {
        // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong options
        mcpAuth(options as any);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).field).toBe(field);
      if (problem !== undefined) expect((caught as ConfigError).problem).toMatch(problem);
    };

    it('refuses location and mode with a sentence saying why', () => {
      refused(
        { ...base(), location: { queryParameter: { name: 'access_token' } } },
        'location',
        /Authorization header only/,
      );
      refused({ ...base(), mode: 'optional' }, 'mode', /always strict/);
    });

    it('checks resource and authorizationServers', () => {
      refused({ ...base(), resource: 'http://mcp.example.test/mcp' }, 'resource', /https/);
      refused({ ...base(), resource: 'https://mcp.example.test/mcp?x=1' }, 'resource', /query/);
      refused({ ...base(), resource: 'https://mcp.example.test/mcp#f' }, 'resource', /fragment/);
      refused({ ...base(), resource: 'mcp' }, 'resource');
      refused({ ...base(), authorizationServers: [] }, 'authorizationServers');
      refused({ ...base(), authorizationServers: undefined }, 'authorizationServers', /required/);
      refused(
        { ...base(), authorizationServers: ['http://auth.example.test'] },
        'authorizationServers',
        /https/,
      );
      refused({ ...base(), scopes: { tools: { deploy: ['two words'] } } }, 'scopes.tools["deploy"][0]');
      refused({ ...base(), maxBodyBytes: 0 }, 'maxBodyBytes');
    });

    it('the Entra v2 preset: GUIDs, and no conflicting issuer or audiences', () => {
      const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
      const clientId = '00000000-1111-2222-3333-444444444444';
      const { issuer: _issuer, ...withoutIssuer } = base();
      refused({ ...withoutIssuer, entra: { tenantId: 'contoso', clientId } }, 'entra.tenantId', /GUID/);
      refused({ ...withoutIssuer, entra: { tenantId, clientId: 'api://mcp' } }, 'entra.clientId', /GUID/);
      refused({ ...base(), entra: { tenantId, clientId } }, 'issuer', /conflicts/);
      refused(
        { ...withoutIssuer, audiences: [RESOURCE], entra: { tenantId, clientId } },
        'audiences',
        /client ID/,
      );
    });
  });

  it('the Entra v2 preset accepts its tokens: iss the tenant v2 issuer, aud the client ID', async () => {
    const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const clientId = '00000000-1111-2222-3333-444444444444';
    const mcp = mcpAuth({
      resource: RESOURCE,
      entra: { tenantId, clientId },
      jwks: { url: keys.url },
      scopes: { required: ['mcp'] },
    });
    closers.push(() => mcp.close());
    expect(mcp.metadata.authorization_servers).toEqual([
      `https://login.microsoftonline.com/${tenantId}/v2.0`,
    ]);
    const server = await framework.serve([mcp]);
    servers.push(server);
    const entraToken = await sign(
      key,
      { scope: undefined, scp: ['mcp'] },
      { issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`, audience: clientId },
    );
    const ok = await send(`${server.url}/mcp`, {
      headers: headers(entraToken, OLDER),
      body: JSON.stringify(rpc('ping')),
    });
    expect(ok.status).toBe(200);
    const resourceAudience = await sign(
      key,
      { scope: undefined, scp: ['mcp'] },
      { issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`, audience: RESOURCE },
    );
    const refused = await send(`${server.url}/mcp`, {
      headers: headers(resourceAudience, OLDER),
      body: JSON.stringify(rpc('ping')),
    });
    expect(refused.status).toBe(401);
  });
});
