import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '../examples/authorization-server.js';
import { followToRedirectUri, HeadlessOAuthProvider, REDIRECT_URL } from '../examples/mcp-client.js';
import { type Framework, frameworks } from './support/frameworks.js';
import { closeServer, listenOnLoopback } from './support/loopback.js';

/**
 * The round trip with real peers: an MCP server made with the official SDK (its Streamable HTTP
 * transport, on Express and on Koa) behind portcullis `mcpAuth`, the SDK's own client with its
 * OAuth flow, and a real OAuth 2.1 authorization server (oidc-provider, examples/). Nothing here
 * mints a token or builds a challenge by hand: the client discovers, registers, authorizes with
 * PKCE, and is stepped up from the 403 it gets, the way any SDK-based MCP client would.
 *
 * Revisions: SDK 1.32 negotiates 2025-11-25 (asserted from the MCP-Protocol-Version it sends), so
 * this covers the body-read per-tool scopes of 2025-06-18 / 2025-11-25; the 2026-07-28 header path
 * (Mcp-Method / Mcp-Name) is covered with raw requests in test/mcp-auth.test.ts.
 */

const REQUIRED = ['mcp:tools'];
const TOOL_SCOPES = { deploy: ['deploy'] };
/** The latest revision @modelcontextprotocol/sdk 1.32.x speaks (its LATEST_PROTOCOL_VERSION). */
const NEGOTIATED = '2025-11-25';

/** What the SDK server saw on each tool call. */
interface ToolCall {
  tool: string;
  /** `extra.authInfo`: the SDK's Node transport takes it from `req.auth`. */
  authInfo: unknown;
  /** `extra.requestInfo.headers`: the request as the SDK server received it. */
  headers: Record<string, string | undefined>;
}

/** What reached the MCP app behind mcpAuth, per HTTP request. */
interface Seen {
  method: string;
  protocolVersion: string | undefined;
}

/** An MCP server with two tools: `echo` (the base scope) and `deploy` (needs `deploy` too). */
function mcpServer(calls: ToolCall[]): McpServer {
  const server = new McpServer({ name: 'portcullis-test', version: '1.0.0' });
  for (const tool of ['echo', 'deploy'] as const) {
    server.registerTool(tool, { description: `the ${tool} tool` }, (extra) => {
      calls.push({
        tool,
        authInfo: extra.authInfo,
        headers: { ...(extra.requestInfo?.headers as Record<string, string | undefined>) },
      });
      return { content: [{ type: 'text', text: `${tool} ran` }] };
    });
  }
  return server;
}

/** The SDK's stateless pattern: one McpServer and transport per HTTP request. */
async function handleMcp(
  calls: ToolCall[],
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const server = mcpServer(calls);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

interface McpApp {
  resource: string;
  calls: ToolCall[];
  seen: Seen[];
  close(): Promise<void>;
}

/** portcullis in front of the MCP endpoint, from the framework's own adapter. */
function guard(framework: Framework, resource: string, as: AuthorizationServer): unknown {
  return framework.lib.mcpAuth({
    resource,
    authorizationServers: [as.issuer],
    issuer: as.issuer,
    jwks: { url: as.jwksUri },
    scopes: { required: REQUIRED, tools: TOOL_SCOPES },
  });
}

/** A listening socket now, the app later: the resource URL (with its port) is needed first. */
async function reserve(): Promise<{ server: Server; resource: string; mount(handler: Handler): void }> {
  let handler: Handler = (_req, res) => res.end();
  const server = createServer((req, res) => handler(req, res));
  await listenOnLoopback(server);
  const resource = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return { server, resource, mount: (next) => (handler = next) };
}
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function mountApp(
  framework: Framework,
  slot: Awaited<ReturnType<typeof reserve>>,
  guard: unknown,
): Promise<McpApp> {
  const calls: ToolCall[] = [];
  const seen: Seen[] = [];
  const legacy = process.env.PORTCULLIS_FRAMEWORKS === 'legacy';
  if (framework.name.startsWith('express')) {
    const express = legacy
      ? ((await import('express4')).default as unknown as typeof import('express'))
      : (await import('express')).default;
    const app = express();
    app.use((req, _res, next) => {
      seen.push({ method: req.method, protocolVersion: req.get('mcp-protocol-version') });
      next();
    });
    app.use(express.json());
    app.use(guard as Parameters<typeof app.use>[0]);
    app.all('/mcp', (req, res) => {
      handleMcp(calls, req, res, req.body).catch(() => res.status(500).end());
    });
    slot.mount(app as unknown as Handler);
  } else {
    const Koa = legacy
      ? ((await import('koa2')).default as unknown as typeof import('koa'))
      : (await import('koa')).default;
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      seen.push({ method: ctx.method, protocolVersion: ctx.get('mcp-protocol-version') || undefined });
      await next();
    });
    app.use(guard as Parameters<typeof app.use>[0]);
    app.use(async (ctx) => {
      if (ctx.path !== '/mcp') return;
      // The SDK writes to the Node response itself; Koa must not answer too.
      ctx.respond = false;
      await handleMcp(calls, ctx.req, ctx.res, undefined);
    });
    slot.mount(app.callback());
  }
  return { resource: slot.resource, calls, seen, close: () => closeServer(slot.server) };
}

interface Challenge {
  status: number;
  wwwAuthenticate: string | null;
  body: unknown;
}

/** The SDK transport's fetch, recording every 401 and 403 the MCP endpoint answers. */
function recordingFetch(resource: string, challenges: Challenge[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if ((response.status === 401 || response.status === 403) && url === resource) {
      const body: unknown = await response
        .clone()
        .json()
        .catch(() => null);
      challenges.push({
        status: response.status,
        wwwAuthenticate: response.headers.get('www-authenticate'),
        body,
      });
    }
    return response;
  };
}

/** Runs `action`; when the SDK stops for an authorization, finishes it and runs `action` again. */
async function withAuthorization<T>(
  provider: HeadlessOAuthProvider,
  transport: StreamableHTTPClientTransport,
  action: () => Promise<T>,
): Promise<{ result: T; authorized: boolean }> {
  try {
    return { result: await action(), authorized: false };
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await transport.finishAuth(provider.takeCode());
    return { result: await action(), authorized: true };
  }
}

const all = await frameworks();
let as: AuthorizationServer;
const apps = new Map<string, McpApp>();

beforeAll(async () => {
  const slots = await Promise.all(all.map(() => reserve()));
  as = await startAuthorizationServer({
    resources: Object.fromEntries(slots.map((slot) => [slot.resource, { scopes: ['mcp:tools', 'deploy'] }])),
  });
  for (const [index, framework] of all.entries()) {
    const slot = slots[index]!;
    apps.set(framework.name, await mountApp(framework, slot, guard(framework, slot.resource, as)));
  }
});

afterAll(async () => {
  await Promise.all([...apps.values()].map((app) => app.close()));
  await as?.close();
});

describe.each(all)('$name: the MCP SDK client against an SDK server behind mcpAuth', (framework) => {
  it('discovers, registers, authorizes, calls echo, is stepped up for deploy, and calls it', async () => {
    const app = apps.get(framework.name)!;
    const provider = new HeadlessOAuthProvider('portcullis SDK round trip');
    const client = new Client({ name: 'portcullis-sdk-test', version: '1.0.0' });

    // 1. The first request has no token: 401, metadata discovery, registration, authorization.
    const challenges: Challenge[] = [];
    const options = { authProvider: provider, fetch: recordingFetch(app.resource, challenges) };
    let transport = new StreamableHTTPClientTransport(new URL(app.resource), options);
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    const metadataUrl = `${new URL(app.resource).origin}/.well-known/oauth-protected-resource/mcp`;
    // RFC 6750 section 3.1: no token sent, so no `error` in the challenge.
    expect(challenges).toEqual([
      {
        status: 401,
        wwwAuthenticate: `Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`,
        body: expect.objectContaining({ error: expect.any(String) }),
      },
    ]);
    expect(provider.redirects).toHaveLength(1);
    const first = provider.redirects[0]!.searchParams;
    expect(first.get('resource')).toBe(app.resource);
    expect(first.get('scope')).toBe('mcp:tools');
    expect(first.get('code_challenge_method')).toBe('S256');
    expect(provider.clientInformation()?.client_id).toBeTruthy();
    await transport.finishAuth(provider.takeCode());

    const token = decodeJwt(provider.tokens()!.access_token);
    expect(token).toMatchObject({ iss: as.issuer, aud: app.resource, sub: 'demo-user', scope: 'mcp:tools' });

    // 2. A new transport with the token: initialize, list, echo.
    transport = new StreamableHTTPClientTransport(new URL(app.resource), options);
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['deploy', 'echo']);
    expect(await client.callTool({ name: 'echo' })).toMatchObject({ content: [{ text: 'echo ran' }] });

    // 3. deploy: 403 insufficient_scope; the SDK asks for the challenge's scope, then the call works.
    const deploy = await withAuthorization(provider, transport, () => client.callTool({ name: 'deploy' }));
    expect(deploy.authorized).toBe(true);
    expect(deploy.result).toMatchObject({ content: [{ text: 'deploy ran' }] });
    expect(provider.redirects).toHaveLength(2);
    const second = provider.redirects[1]!.searchParams;
    expect(second.get('scope')!.split(' ').sort()).toEqual(['deploy', 'mcp:tools']);
    expect(second.get('resource')).toBe(app.resource);
    expect(decodeJwt(provider.tokens()!.access_token).scope).toBe('mcp:tools deploy');
    // The one 403 the SDK acted on: every scope deploy needs, in one challenge and in the body.
    expect(challenges.slice(1)).toEqual([
      {
        status: 403,
        wwwAuthenticate: expect.stringMatching(
          /^Bearer error="insufficient_scope", scope="mcp:tools deploy", resource_metadata="[^"]+", error_description="[^"]+"$/,
        ),
        body: expect.objectContaining({ error: 'insufficient_scope', scope: 'mcp:tools deploy' }),
      },
    ]);
    expect(challenges[1]!.wwwAuthenticate).toContain(`resource_metadata="${metadataUrl}"`);

    // The SDK server ran each tool once, and only after authorization. The token never reached
    // it: portcullis strips the Authorization header it consumed, and the identity it attaches
    // holds no token. The SDK's Node transport reads `authInfo` from `req.auth`: on Express that is
    // portcullis's identity (scopes, verified claims; no `token`), on Koa (`ctx.state.auth`) nothing.
    expect(app.calls.map((call) => call.tool)).toEqual(['echo', 'deploy']);
    const accessToken = provider.tokens()!.access_token;
    for (const call of app.calls) {
      expect(call.headers['mcp-protocol-version']).toBe(NEGOTIATED);
      expect(call.headers.authorization).toBeUndefined();
      expect(JSON.stringify(call)).not.toContain(accessToken.split('.')[2]!);
    }
    if (framework.name.startsWith('express')) {
      expect(app.calls.map((call) => call.authInfo)).toEqual([
        expect.objectContaining({ subject: 'demo-user', scopes: ['mcp:tools'] }),
        expect.objectContaining({ subject: 'demo-user', scopes: ['mcp:tools', 'deploy'] }),
      ]);
      expect(app.calls[1]!.authInfo).not.toHaveProperty('token');
    } else {
      expect(app.calls.map((call) => call.authInfo)).toEqual([undefined, undefined]);
    }
    await client.close();

    // The revision the SDK negotiated: initialize goes without the header, everything after it
    // carries the one the server answered with.
    expect(app.seen[0]).toEqual({ method: 'POST', protocolVersion: undefined });
    expect(new Set(app.seen.slice(1).map((request) => request.protocolVersion))).toEqual(
      new Set([undefined, NEGOTIATED]),
    );
    expect(app.seen.filter((request) => request.protocolVersion === NEGOTIATED).length).toBeGreaterThan(3);
  });
});

describe('the embedded authorization server (examples/authorization-server.ts)', () => {
  const resource = () => apps.get(all[0]!.name)!.resource;

  async function register(metadata: Record<string, unknown> = {}): Promise<string> {
    const response = await fetch(`${as.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [REDIRECT_URL],
        token_endpoint_auth_method: 'none',
        scope: 'mcp:tools',
        ...metadata,
      }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { client_id: string }).client_id;
  }

  function authorizationUrl(clientId: string, params: Record<string, string>): URL {
    const url = new URL(`${as.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT_URL,
      state: 'state-1',
      ...params,
    }).toString();
    return url;
  }

  async function token(body: Record<string, string>): Promise<Response> {
    return fetch(`${as.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    });
  }

  it('publishes the same metadata at the RFC 8414 and the OIDC discovery URLs', async () => {
    const discover = async (name: string) => {
      const response = await fetch(`${as.issuer}/.well-known/${name}`);
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    };
    const oauth = await discover('oauth-authorization-server');
    const oidc = await discover('openid-configuration');
    expect(oauth).toEqual(oidc);
    expect(oauth).toMatchObject({
      issuer: as.issuer,
      jwks_uri: as.jwksUri,
      registration_endpoint: `${as.issuer}/reg`,
      code_challenge_methods_supported: ['S256'],
    });
    expect(oauth.token_endpoint_auth_methods_supported).toContain('none');
  });

  it('refuses an authorization request without PKCE, and one for a resource it does not know', async () => {
    const clientId = await register();
    const noPkce = await followToRedirectUri(
      authorizationUrl(clientId, { scope: 'mcp:tools', resource: resource() }),
    );
    expect(noPkce.get('error')).toBe('invalid_request');
    expect(noPkce.get('code')).toBeNull();
    const unknown = await followToRedirectUri(
      authorizationUrl(clientId, {
        scope: 'mcp:tools',
        resource: 'http://127.0.0.1:1/elsewhere',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
    );
    expect(unknown.get('error')).toBe('invalid_target');
  });

  it('issues JWT access tokens for the resource, verifiable at jwksUri, and refreshes them', async () => {
    const clientId = await register({ grant_types: ['authorization_code', 'refresh_token'] });
    // A refresh token comes only with offline_access, which OpenID Connect pairs with
    // prompt=consent (so the SDK's step-up is never a refresh).
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirect = await followToRedirectUri(
      authorizationUrl(clientId, {
        scope: 'mcp:tools deploy offline_access',
        prompt: 'consent',
        resource: resource(),
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(redirect.get('state')).toBe('state-1');
    const issued = await token({
      grant_type: 'authorization_code',
      client_id: clientId,
      code: redirect.get('code')!,
      redirect_uri: REDIRECT_URL,
      code_verifier: verifier,
      resource: resource(),
    });
    expect(issued.status).toBe(200);
    const tokens = (await issued.json()) as { access_token: string; refresh_token?: string };
    const jwks = createRemoteJWKSet(new URL(as.jwksUri));
    const verified = await jwtVerify(tokens.access_token, jwks, { issuer: as.issuer, audience: resource() });
    expect(verified.protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(verified.payload).toMatchObject({
      sub: 'demo-user',
      client_id: clientId,
      scope: 'mcp:tools deploy',
    });

    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await token({
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: tokens.refresh_token!,
      resource: resource(),
    });
    expect(refreshed.status).toBe(200);
    const again = (await refreshed.json()) as { access_token: string };
    const reverified = await jwtVerify(again.access_token, jwks, { issuer: as.issuer, audience: resource() });
    expect(reverified.payload.scope).toBe('mcp:tools deploy');
  });

  it('approves a client that follows the redirects without keeping cookies, and only a known interaction', async () => {
    const clientId = await register();
    const redirect = await followToRedirectUri(
      authorizationUrl(clientId, {
        scope: 'mcp:tools',
        resource: resource(),
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }),
      false,
    );
    expect(redirect.get('code')).toBeTruthy();
    const unknown = await fetch(`${as.issuer}/interaction/not-an-interaction`, { redirect: 'manual' });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ error: 'invalid_request' });
  });

  it('refuses a code exchanged with the wrong PKCE verifier', async () => {
    const clientId = await register();
    const verifier = randomBytes(32).toString('base64url');
    const redirect = await followToRedirectUri(
      authorizationUrl(clientId, {
        scope: 'mcp:tools',
        resource: resource(),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }),
    );
    const response = await token({
      grant_type: 'authorization_code',
      client_id: clientId,
      code: redirect.get('code')!,
      redirect_uri: REDIRECT_URL,
      code_verifier: randomBytes(32).toString('base64url'),
      resource: resource(),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
