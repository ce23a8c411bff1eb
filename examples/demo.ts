import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import * as forExpress from '../adapters/express/index.js';
import * as forKoa from '../adapters/koa/index.js';
import type {
  ApiKeyAuthOptions,
  BackendAuthOptions,
  BasicAuthOptions,
  JwtAuthOptions,
  Logger,
  McpAuthOptions,
} from '../src/index.js';
import { type AuthorizationServer, startAuthorizationServer } from './authorization-server.js';
import { type DemoCredentials, demoCredentials } from './credentials.js';
import { forward } from './forward.js';
import { type DemoIssuer, startIssuer } from './issuer.js';
import { handleMcp, MCP_ALL_SCOPES, MCP_PATH, MCP_SCOPES } from './mcp-server.js';
import { type SharedInstances, startSharedInstances } from './shared-instances.js';
import { startEchoUpstream } from './upstream.js';

export const AUDIENCE = 'demo-api';

/** Ports of the demo's servers; 0 picks free ones (tests). */
export interface DemoPorts {
  express: number;
  koa: number;
  issuer: number;
  upstream: number;
  /** The OAuth authorization server of the MCP routes (oidc-provider); 0 or absent: a free one. */
  authorizationServer?: number;
  /** With `redisUrl`: the two instances that share their API keys through Redis (A: Express, B: Koa). */
  instanceA?: number;
  instanceB?: number;
}

export interface DemoOptions {
  /** Where the gateways report; `npm start` passes one with `debug`, so each refusal's reason shows. */
  logger?: Logger;
  /**
   * A Redis URL (`npm start` passes REDIS_URL): two more gateway instances then share their API
   * keys through it, and a key revoked through one is refused by the other. Without it the demo
   * needs no Redis at all.
   */
  redisUrl?: string;
}

export interface Demo {
  issuer: DemoIssuer;
  /** The MCP routes' authorization server (discovery, registration, PKCE, auto-approval). */
  authorizationServer: AuthorizationServer;
  urls: { express: string; koa: string; upstream: string };
  /** Each gateway's MCP endpoint: the `resource` its mcpAuth protects. */
  mcp: { express: string; koa: string };
  /** A token valid for an hour, for the printed curl lines. */
  token: string;
  /** The same, for a member of the "admins" group. */
  adminToken: string;
  credentials: DemoCredentials;
  /** With `redisUrl`: the two instances on Redis. */
  shared?: SharedInstances;
  /** Ready-to-paste commands, one per demo route and gateway. */
  curls(): string[];
  /** Ready-to-paste MCP commands per gateway: the metadata, the 401 challenge, the SDK client. */
  mcpCommands(): string[];
  close(): Promise<void>;
}

/** Every route the demo offers, the same on both gateways. */
export const ROUTES = {
  health: '/health',
  /** Under the public prefix `/docs/*`: no token needed. */
  docs: '/docs/openapi.json',
  me: '/me',
  api: '/api/hello',
  sse: '/sse',
  basic: '/basic/me',
  apiKey: '/keys/me',
  any: '/any/me',
  admin: '/admin',
  passthrough: '/passthrough/hello',
} as const;

/** The demo's authorization: admins only on /admin; the upstream needs chat:read. */
const ADMIN_RULES = { rules: ['request.path == "/admin" && "admins" in jwt.groups'] };
const IDENTITY_HEADERS = { headers: { 'x-user-id': 'auth.subject', 'x-auth-method': 'auth.method' } };

/** The options every gateway uses: one place, so Express and Koa run the same policy. */
function policies(
  issuer: DemoIssuer,
  credentials: DemoCredentials,
  logger: Logger | undefined,
  as: AuthorizationServer,
) {
  // mcpAuth's options but the resource, which is each gateway's own /mcp URL.
  const mcp = (resource: string) =>
    ({
      resource,
      authorizationServers: [as.issuer],
      issuer: as.issuer,
      jwks: { url: as.jwksUri },
      scopes: MCP_SCOPES,
      logger,
    }) satisfies McpAuthOptions;
  const jwt = { issuer: issuer.url, audiences: [AUDIENCE], logger } satisfies JwtAuthOptions;
  return {
    // Public: the health check, everything under /docs/, and the CORS preflight of /me (a
    // browser sends it without credentials; narrowed to one path, as every OPTIONS handler on a
    // public entry runs without a credential).
    header: {
      ...jwt,
      publicPaths: [ROUTES.health, '/docs/*', { path: ROUTES.me, methods: ['OPTIONS'] }],
    } satisfies JwtAuthOptions,
    // EventSource cannot send headers, so this route takes the token from the query string.
    query: { ...jwt, location: { queryParameter: { name: 'access_token' } } } satisfies JwtAuthOptions,
    jwt,
    basic: { htpasswd: credentials.htpasswd, realm: 'portcullis demo', logger } satisfies BasicAuthOptions,
    apiKey: {
      keys: credentials.apiKeys,
      location: { header: { name: 'x-api-key' } },
      logger,
    } satisfies ApiKeyAuthOptions,
    // agents-gateway's "composite" mode: an API key or an OAuth2/JWT token, both as Bearer.
    bearerKey: { keys: credentials.apiKeys, logger } satisfies ApiKeyAuthOptions,
    // The upstream's own key (DEMO_UPSTREAM_KEY, or one made at start-up). A deployment would
    // write `value: '$OPENAI_API_KEY'` or `value: { file: '/run/secrets/upstream-key' }`.
    upstreamKey: { key: { value: credentials.upstreamKey } } satisfies BackendAuthOptions,
    // The upstream of /passthrough trusts the same issuer: it gets the client's validated token.
    passthrough: { passthrough: {} } satisfies BackendAuthOptions,
    mcp,
  };
}

type Policies = ReturnType<typeof policies>;

function expressGateway(p: Policies, upstream: string, mcpUrl: string) {
  const {
    mcpAuth,
    jwtAuth,
    basicAuth,
    apiKeyAuth,
    anyAuth,
    authorize,
    requireScopes,
    forwardIdentity,
    backendAuth,
  } = forExpress;
  const mw = {
    header: jwtAuth(p.header),
    query: jwtAuth(p.query),
    basic: basicAuth(p.basic),
    apiKey: apiKeyAuth(p.apiKey),
    any: anyAuth(apiKeyAuth(p.bearerKey), jwtAuth(p.jwt)),
    upstreamKey: backendAuth(p.upstreamKey),
    passthrough: backendAuth(p.passthrough),
    mcp: mcpAuth(p.mcp(mcpUrl)),
  };
  const app = express();
  // The RFC 9728 documents at /.well-known/oauth-protected-resource[/mcp]; everything else passes.
  app.use(mw.mcp.metadataHandler);
  // The MCP endpoint, before the app-wide jwtAuth: mcpAuth is its only guard. No body parser in
  // front: mcpAuth checks the token before reading a byte of the body, reads it (bounded) only
  // for an authenticated request, and puts it back for the SDK transport.
  app.all(MCP_PATH, mw.mcp, (req, res) => {
    void handleMcp('express', req, res, undefined);
  });
  const identity: express.RequestHandler = (req, res) => {
    res.json({ gateway: 'express', auth: req.auth });
  };
  app.get(ROUTES.sse, mw.query, (req, res) => {
    res.json({ gateway: 'express', subject: req.auth?.subject, urlSeenByApp: req.originalUrl });
  });
  app.get(ROUTES.basic, mw.basic, identity);
  app.get(ROUTES.apiKey, mw.apiKey, identity);
  app.get(ROUTES.any, mw.any, identity);
  app.use(mw.header);
  app.get(ROUTES.health, (_req, res) => {
    res.json({ ok: true });
  });
  app.get(ROUTES.docs, (_req, res) => {
    res.json({ openapi: '3.1.0', info: { title: 'portcullis demo', version: '1' } });
  });
  // A CORS preflight, public on /me through `{ path: '/me', methods: ['OPTIONS'] }`.
  app.options(/.*/, (_req, res) => {
    res.set({ 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization' }).end();
  });
  app.get(ROUTES.me, identity);
  app.get(ROUTES.admin, authorize(ADMIN_RULES), identity);
  app.use('/api', requireScopes('chat:read'), forwardIdentity(IDENTITY_HEADERS), mw.upstreamKey, (req, res) =>
    forward(upstream, req, res, req.originalUrl),
  );
  app.use('/passthrough', mw.passthrough, (req, res) => forward(upstream, req, res, req.originalUrl));
  return { handler: app as RequestListener, middlewares: Object.values(mw) };
}

function koaGateway(p: Policies, upstream: string, mcpUrl: string) {
  const {
    mcpAuth,
    jwtAuth,
    basicAuth,
    apiKeyAuth,
    anyAuth,
    authorize,
    requireScopes,
    forwardIdentity,
    backendAuth,
  } = forKoa;
  const admin = authorize(ADMIN_RULES);
  const upstreamScope = requireScopes('chat:read');
  const identityHeaders = forwardIdentity(IDENTITY_HEADERS);
  const mw = {
    header: jwtAuth(p.header),
    query: jwtAuth(p.query),
    basic: basicAuth(p.basic),
    apiKey: apiKeyAuth(p.apiKey),
    any: anyAuth(apiKeyAuth(p.bearerKey), jwtAuth(p.jwt)),
    upstreamKey: backendAuth(p.upstreamKey),
    passthrough: backendAuth(p.passthrough),
    mcp: mcpAuth(p.mcp(mcpUrl)),
  };
  const app = new Koa();
  // The route table below compares paths exactly: public paths and rules must fold as it does.
  forKoa.koaRouting(app, { caseSensitive: true, strict: true });
  // The RFC 9728 documents at /.well-known/oauth-protected-resource[/mcp]; everything else passes.
  app.use(mw.mcp.metadataHandler);
  const toUpstream = async (ctx: Koa.Context) => {
    ctx.respond = false;
    forward(upstream, ctx.req, ctx.res, ctx.originalUrl);
  };
  const identity = async (ctx: Koa.Context) => {
    ctx.body = { gateway: 'koa', auth: ctx.state.auth };
  };
  // A route table without a router dependency: path -> the middleware that guards it.
  const guarded: Record<string, typeof mw.basic> = {
    [ROUTES.basic]: mw.basic,
    [ROUTES.apiKey]: mw.apiKey,
    [ROUTES.any]: mw.any,
  };
  app.use(async (ctx, next) => {
    if (ctx.path === MCP_PATH) {
      // mcpAuth reads the body (bounded) and puts it back for the SDK transport, which answers
      // on the Node response itself: Koa must not answer too.
      return mw.mcp(ctx, async () => {
        ctx.respond = false;
        await handleMcp('koa', ctx.req, ctx.res, undefined);
      });
    }
    if (ctx.path === ROUTES.sse) {
      return mw.query(ctx, async () => {
        ctx.body = { gateway: 'koa', subject: ctx.state.auth?.subject, urlSeenByApp: ctx.originalUrl };
      });
    }
    const guard = guarded[ctx.path];
    if (guard !== undefined) return guard(ctx, () => identity(ctx));
    return next();
  });
  app.use(mw.header);
  app.use(async (ctx) => {
    if (ctx.method === 'OPTIONS') {
      ctx.set({ 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization' });
      ctx.status = 204;
    } else if (ctx.path === ROUTES.health) ctx.body = { ok: true };
    else if (ctx.path === ROUTES.docs)
      ctx.body = { openapi: '3.1.0', info: { title: 'portcullis demo', version: '1' } };
    else if (ctx.path === ROUTES.me) await identity(ctx);
    else if (ctx.path === ROUTES.admin) await admin(ctx, () => identity(ctx));
    else if (ctx.path.startsWith('/api/')) {
      await upstreamScope(ctx, () => identityHeaders(ctx, () => mw.upstreamKey(ctx, () => toUpstream(ctx))));
    } else if (ctx.path.startsWith('/passthrough/')) await mw.passthrough(ctx, () => toUpstream(ctx));
    else ctx.status = 404;
  });
  return { handler: app.callback(), middlewares: Object.values(mw) };
}

/**
 * A listening socket first, its app later: each gateway's mcpAuth needs its own /mcp URL (with
 * the port, which 0 leaves to the system), and the authorization server needs both.
 */
async function listen(port: number): Promise<{ server: Server; mount(handler: RequestListener): void }> {
  let handler: RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, mount: (next) => (handler = next) };
}

/** The JSON-RPC body of the printed 401 curl: a call of the tool that needs an extra scope. */
const DEPLOY_CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'deploy', arguments: {} },
});

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Starts the issuer, the echo upstream and both gateways. */
export async function startDemo(ports: DemoPorts, options: DemoOptions = {}): Promise<Demo> {
  const issuer = await startIssuer(ports.issuer, AUDIENCE);
  const credentials = demoCredentials();
  const upstream = await startEchoUpstream(ports.upstream, credentials.upstreamKey);
  const expressSlot = await listen(ports.express);
  const koaSlot = await listen(ports.koa);
  const expressServer = expressSlot.server;
  const koaServer = koaSlot.server;
  const mcp = { express: `${urlOf(expressServer)}${MCP_PATH}`, koa: `${urlOf(koaServer)}${MCP_PATH}` };
  const authorizationServer = await startAuthorizationServer({
    port: ports.authorizationServer ?? 0,
    resources: { [mcp.express]: { scopes: MCP_ALL_SCOPES }, [mcp.koa]: { scopes: MCP_ALL_SCOPES } },
  });
  const p = policies(issuer, credentials, options.logger, authorizationServer);
  const ex = expressGateway(p, upstream.url, mcp.express);
  const ko = koaGateway(p, upstream.url, mcp.koa);
  expressSlot.mount(ex.handler);
  koaSlot.mount(ko.handler);
  const token = await issuer.mint();
  const adminToken = await issuer.mint({ sub: 'demo-admin', groups: ['admins'] });
  const urls = { express: urlOf(expressServer), koa: urlOf(koaServer), upstream: upstream.url };
  const shared =
    options.redisUrl === undefined
      ? undefined
      : await startSharedInstances({
          redisUrl: options.redisUrl,
          ports: [ports.instanceA ?? 0, ports.instanceB ?? 0],
          issuer,
          audience: AUDIENCE,
          apiKeys: credentials.apiKeys,
          logger: options.logger,
        });
  const { username, password } = credentials.basicUser;
  return {
    issuer,
    authorizationServer,
    urls,
    mcp,
    token,
    adminToken,
    credentials,
    ...(shared === undefined ? {} : { shared }),
    curls() {
      const lines: string[] = [];
      for (const base of [urls.express, urls.koa]) {
        lines.push(
          `curl -s ${base}${ROUTES.health}`,
          `curl -s ${base}${ROUTES.docs}`,
          `curl -si -X OPTIONS ${base}${ROUTES.me} -H "Origin: https://app.example" -H "Access-Control-Request-Method: GET"`,
          `curl -s ${base}${ROUTES.me} -H "Authorization: Bearer $TOKEN"`,
          `curl -s ${base}${ROUTES.api} -H "Authorization: Bearer $TOKEN"`,
          `curl -s "${base}${ROUTES.sse}?access_token=$TOKEN"`,
          `curl -s ${base}${ROUTES.basic} -u ${username}:${password}`,
          `curl -s ${base}${ROUTES.apiKey} -H "x-api-key: $API_KEY"`,
          `curl -s ${base}${ROUTES.any} -H "Authorization: Bearer $API_KEY"`,
          `curl -s ${base}${ROUTES.any} -H "Authorization: Bearer $TOKEN"`,
          `curl -s ${base}${ROUTES.admin} -H "Authorization: Bearer $TOKEN"`,
          `curl -s ${base}${ROUTES.admin} -H "Authorization: Bearer $ADMIN_TOKEN"`,
          `curl -s ${base}${ROUTES.passthrough} -H "Authorization: Bearer $TOKEN"`,
          `curl -si ${base}${ROUTES.me}`,
        );
      }
      return lines;
    },
    mcpCommands() {
      const lines: string[] = [];
      for (const [base, endpoint] of [
        [urls.express, mcp.express],
        [urls.koa, mcp.koa],
      ] as const) {
        lines.push(
          `curl -s ${base}/.well-known/oauth-protected-resource${MCP_PATH}`,
          `curl -si -X POST ${endpoint} -H "Content-Type: application/json" -H "Accept: application/json, text/event-stream" -H "MCP-Protocol-Version: 2026-07-28" -H "Mcp-Method: tools/call" -H "Mcp-Name: deploy" -d '${DEPLOY_CALL}'`,
          `npx tsx examples/mcp-client.ts ${endpoint}`,
        );
      }
      return lines;
    },
    async close() {
      await shared?.close();
      for (const middleware of [...ex.middlewares, ...ko.middlewares]) await middleware.close();
      for (const server of [expressServer, koaServer, upstream.server, issuer.server]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await authorizationServer.close();
    },
  };
}
