import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { inMemoryStore } from './authorization-server-store.js';

/**
 * An embedded OAuth 2.1 authorization server on loopback, built on panva's `oidc-provider`
 * (OpenID-certified), for the MCP tests and the `npm start` demo. It is what an MCP client meets
 * after following `resource_metadata`: discovery metadata (RFC 8414 and OIDC), dynamic client
 * registration (RFC 7591, public clients), PKCE S256 (required), resource indicators (RFC 8707)
 * issuing JWT access tokens whose `aud` is the resource and whose `scope` claim lists the granted
 * scopes, and refresh tokens for clients that register the refresh_token grant AND ask for
 * `offline_access` (oidc-provider's default). Not to every client: the MCP SDK (1.32) answers a
 * 403 insufficient_scope with a refresh when it holds a refresh token, a refresh cannot widen the
 * scope, and the step-up to a tool's scope would never happen.
 *
 * Nobody clicks anything: the login-and-consent step logs in one fixed demo account and grants the
 * scopes asked for (only those the resource offers), then redirects back into the authorization
 * endpoint. A client follows the whole chain with fetch (cookies optional) and ends at its
 * redirect_uri with the code. That makes it a demo and test server, never a real one.
 */
export interface AuthorizationServerOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Resource indicators this server issues tokens for, and the scopes each one offers. */
  resources: Record<string, { scopes: string[] }>;
  /** The account every authorization logs in as (the tokens' `sub`). Default `demo-user`. */
  account?: string;
  /** Access token lifetime in seconds. Default 600. */
  accessTokenTtlSeconds?: number;
}

export interface AuthorizationServer {
  /** The issuer URL (the tokens' `iss`, and the value to put in `authorizationServers`). */
  issuer: string;
  jwksUri: string;
  close(): Promise<void>;
}

const INTERACTION = /^\/interaction\/([\w-]{1,64})$/;
const RESUME = /^\/auth\/([\w-]{1,64})$/;

export async function startAuthorizationServer(
  options: AuthorizationServerOptions,
): Promise<AuthorizationServer> {
  const account = options.account ?? 'demo-user';
  // The issuer URL carries the port, so the socket is bound first and the provider made after.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: `as-${Date.now().toString(36)}`,
    alg: 'ES256',
    use: 'sig',
  };

  // The key of Koa's signed cookies, fresh for each server: nothing outlives the process anyway.
  const cookieKey = randomBytes(32).toString('base64url');
  const provider = new Provider(issuer, {
    adapter: inMemoryStore(),
    cookies: { keys: [cookieKey] },
    jwks: { keys: [signingKey] },
    // Only ES256 is in the keystore, so registered clients default to it for ID tokens too.
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'ES256',
    },
    features: {
      devInteractions: { enabled: false },
      registration: {
        enabled: true,
        // Every registration carries the initial access token minted below (see withoutScope).
        initialAccessToken: true,
        policies: { [WITHOUT_SCOPE]: withoutScope },
      },
      resourceIndicators: {
        enabled: true,
        // A client that names no resource on the token request still gets the one it was granted.
        // With no `oneOf` (the authorization request) undefined means "none", as in oidc-provider's
        // own default; its typings (8.x) leave undefined out, hence the cast.
        defaultResource: (_ctx, _client, oneOf) => oneOf as string[],
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          const resource = options.resources[indicator];
          if (!resource) throw new errors.InvalidTarget();
          return {
            scope: resource.scopes.join(' '),
            audience: indicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: options.accessTokenTtlSeconds ?? 600,
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    // Public clients (auth method none) must use PKCE; this makes it every client.
    pkce: { required: () => true },
    // Every lifetime set, so oidc-provider has no default to warn about; short ones: it is a demo.
    ttl: {
      AccessToken: options.accessTokenTtlSeconds ?? 600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 86400,
      Session: 3600,
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // An error it cannot redirect back with (an unknown client, say) is answered in JSON, not with
    // oidc-provider's sample HTML page (whose default also prints a notice).
    renderError: (ctx, out) => {
      ctx.type = 'application/json';
      ctx.body = { error: out.error, error_description: out.error_description };
    },
  });

  // Auto-approve: log in the demo account and grant the requested scopes of the requested resource.
  // The interaction is found by the uid in its URL, not by oidc-provider's cookie: those cookies
  // bind the flow to the browser that started it, which matters when a person consents; this
  // server approves anyone, and a client following the redirects with plain fetch keeps no cookies.
  async function approve(uid: string, res: ServerResponse): Promise<void> {
    const interaction = await provider.Interaction.find(uid);
    if (!interaction) throw new Error('no such interaction');
    const { params } = interaction;
    const grant = new provider.Grant({ accountId: account, clientId: String(params.client_id) });
    const requested = String(params.scope ?? '').split(' ');
    const oidcScopes = requested.filter((scope) => scope === 'openid' || scope === 'offline_access');
    if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
    const resource = params.resource;
    for (const indicator of Array.isArray(resource) ? resource : resource ? [String(resource)] : []) {
      const offered = options.resources[indicator]?.scopes ?? [];
      grant.addResourceScope(indicator, requested.filter((scope) => offered.includes(scope)).join(' '));
    }
    interaction.result = { login: { accountId: account }, consent: { grantId: await grant.save() } };
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
    res.writeHead(303, { location: interaction.returnTo, 'content-length': '0' });
    res.end();
  }

  // Registration stays open to anyone (RFC 7591 without an initial access token, as MCP clients
  // expect): each one is handed this token, the way to have oidc-provider run withoutScope.
  const registrationToken = await new provider.InitialAccessToken({ policies: [WITHOUT_SCOPE] }).save();

  const callback = provider.callback();
  handler = (req, res) => {
    // RFC 8414 clients ask here first; the document is the same as the OIDC one.
    if (req.url === '/.well-known/oauth-authorization-server') req.url = '/.well-known/openid-configuration';
    if (req.method === 'POST' && req.url === '/reg')
      req.headers.authorization = `Bearer ${registrationToken}`;
    const interaction = INTERACTION.exec(req.url ?? '');
    if (req.method === 'GET' && interaction) {
      approve(interaction[1]!, res).catch(() => {
        // An unknown or expired interaction: say so without any detail.
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_request"}');
      });
      return;
    }
    // The resume step wants the cookie naming its interaction: it comes from the URL (see approve),
    // placed first so that it is the one read whatever a cookie-less or careless client sends, and
    // signed as Koa's cookies (Keygrip: HMAC-SHA1 of `name=value`, base64url) check it.
    const resume = RESUME.exec(req.url ?? '');
    if (resume) {
      const cookie = `_interaction_resume=${resume[1]}`;
      const signature = createHmac('sha1', cookieKey).update(cookie).digest('base64url');
      const sent = req.headers.cookie ? `; ${req.headers.cookie}` : '';
      req.headers.cookie = `${cookie}; _interaction_resume.sig=${signature}${sent}`;
    }
    callback(req, res);
  };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const WITHOUT_SCOPE = 'without-scope';

/**
 * MCP clients (the SDK among them) register with `scope` set to the scopes of the challenge they
 * are answering. oidc-provider accepts only its static (OIDC) scopes there, not a resource's; and
 * were the resource's scopes made static, the registered list would cap every later request, so
 * the step-up to a tool's scope could never happen. Here the grant decides what a client gets, so
 * the registration's `scope` is dropped. It is dropped by a registration policy, which
 * oidc-provider runs on the metadata it parsed itself, before validating it.
 */
function withoutScope(_ctx: unknown, metadata: { scope?: string | undefined }): void {
  delete metadata.scope;
}
