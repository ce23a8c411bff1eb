/**
 * The adapter kit: what an adapter (Express, Koa) supplies, and the public factories built
 * from it once. Internal: not exported from any entry point (see the README, "Architecture":
 * the contract between the core and an adapter is still moving, and an adapter must get every
 * framework's cached URL views right for stripping to hold).
 *
 * The factories' TSDoc is written here, once, on the call signatures of the interfaces below:
 * each adapter's exported consts take their type from these interfaces, so an editor shows the
 * documentation and examples on `jwtAuth(...)` whichever adapter it came from.
 */
import { type AnyAuthOptions, AnyInbound, anyAuthArguments, withInbound } from './any.js';
import type { ApiKeyAuthOptions, ApiKeyManager } from './apikey/authenticator.js';
import { type AuthorizeOptions, authorizer, type RequestCheck } from './authz/authorize.js';
import { type ForwardIdentityOptions, identityForwarder } from './authz/forward-identity.js';
import { scopeRequirement } from './authz/scopes.js';
import { BackendAuth, type BackendAuthOptions } from './backend/backend-auth.js';
import type { BasicAuthOptions } from './basic/authenticator.js';
import { keysOf, refuseNonBoolean, refuseUnknownKeys } from './config/known-keys.js';
import type { AuthProvider, CustomAuthOptions } from './custom/authenticator.js';
import { ConfigError } from './errors.js';
import { apiKeyInbound, basicInbound, customInbound, type InboundHandler, jwtInbound } from './factories.js';
import type { Inbound, InboundOptions } from './inbound.js';
import type { JwtAuthOptions } from './jwt/options.js';
import type { TokenRevoker } from './jwt/revocations.js';
import { mcpInbound } from './mcp/mcp-auth.js';
import type { ProtectedResourceMetadata } from './mcp/metadata.js';
import type { McpAuthOptions } from './mcp/options.js';

/** Options every step after authentication takes: `requireScopes(..., options)`, `forwardIdentity`. */
export interface StepOptions {
  /**
   * Hand refusals to the app's own error handling instead of answering: Express receives
   * `next(err)`, Koa a thrown `AuthError` (status, code, headers, expose). Default false.
   */
  delegateErrors?: boolean;
}

/** Options of `forwardIdentity()`: the headers, and `delegateErrors`. */
export type ForwardIdentityStepOptions = ForwardIdentityOptions & StepOptions;

/** The three things an adapter knows how to do: wrap an inbound handler, a check, a backend. */
export interface AdapterWrappers<Auth extends { close(): Promise<void> }, Check, Backend> {
  inbound(handler: InboundHandler, options: InboundOptions): Auth;
  check(step: RequestCheck, options: StepOptions): Check;
  backend(backend: BackendAuth, options: StepOptions): Backend;
}

/** `jwtAuth(options)` */
export interface JwtAuthFactory<Middleware> {
  /**
   * Verifies JWTs against JWKS (URL, file, inline or OIDC discovery) or an explicit HMAC secret.
   * The identity lands on `req.auth` (Express) or `ctx.state.auth` (Koa), its claims on
   * `auth.jwt`; `close()` stops its refresh timers and file watchers. `revoke({ jti })` or
   * `revoke({ sub })` refuses a token (or a subject's tokens issued until now) on every replica
   * sharing `revocations.store`, cached tokens included.
   *
   * @example
   * ```ts
   * const jwt = jwtAuth({ issuer: 'https://id.example.com', audiences: ['api'], jwks: { url: 'https://id.example.com/jwks' },
   *   revocations: { store: redisStore({ client }) } });
   * app.use(jwt);
   * await jwt.revoke({ sub: 'user-42' });
   * ```
   */
  (options: JwtAuthOptions): Middleware & TokenRevoker;
}

/** What `mcpAuth()` returns besides the middleware itself. */
export interface McpAuthParts<Middleware> extends TokenRevoker {
  /** The RFC 9728 protected-resource metadata document it serves (frozen). */
  readonly metadata: ProtectedResourceMetadata;
  /**
   * Serves the metadata documents and passes every other request on untouched: mount it at the
   * app's root when mcpAuth itself sits on the MCP route only (`app.post('/mcp', mcp, ...)`),
   * so clients find `/.well-known/oauth-protected-resource[/<path>]`.
   */
  readonly metadataHandler: Middleware;
}

/** `mcpAuth(options)` */
export interface McpAuthFactory<Middleware> {
  /**
   * An MCP server's authorization (MCP 2025-06-18, 2025-11-25, 2026-07-28): serves the RFC 9728
   * metadata at `/.well-known/oauth-protected-resource<resource path>` and at the root form,
   * verifies the Bearer token with the jwtAuth machinery (the audience must be `resource`,
   * RFC 8707, unless `audiences` or the `entra` preset says otherwise), and requires the scopes
   * of the operation: `scopes.required`, plus `scopes.methods[method]` and, for `tools/call`,
   * `scopes.tools[name]`, read from the `Mcp-Method` / `Mcp-Name` headers (2026-07-28, checked
   * against the body: a mismatch is 400 JSON-RPC -32020) or from the JSON-RPC body (earlier
   * revisions; a batch needs every message's scopes). 401 challenges carry `resource_metadata`
   * and `scope`, with `error` only when a token was sent; a missing scope is 403
   * `insufficient_scope` naming every scope the operation needs. Tokens in the query string are
   * refused (400), and `backendAuth({ passthrough })` refuses to forward an MCP client's token.
   *
   * @example
   * ```ts
   * const mcp = mcpAuth({
   *   resource: 'https://mcp.example.com/mcp',
   *   authorizationServers: ['https://auth.example.com'],
   *   issuer: 'https://auth.example.com',
   *   scopes: { required: ['mcp'], tools: { deploy: ['deploy'] } },
   * });
   * app.use(mcp.metadataHandler);        // the /.well-known/oauth-protected-resource documents
   * app.post('/mcp', mcp, mcpTransportHandler);
   * ```
   */
  (options: McpAuthOptions): Middleware & McpAuthParts<Middleware>;
}

/** `basicAuth(options)` */
export interface BasicAuthFactory<Middleware> {
  /**
   * HTTP Basic against an htpasswd file (apr1, bcrypt, {SHA}, SHA-crypt), re-read when it changes.
   *
   * @example
   * ```ts
   * app.use(basicAuth({ htpasswd: { file: '/etc/gateway/htpasswd' }, realm: 'Admin' }));
   * ```
   */
  (options: BasicAuthOptions): Middleware;
}

/** `apiKeyAuth(options)` */
export interface ApiKeyAuthFactory<Middleware> {
  /**
   * API keys looked up by SHA-256 digest, with scopes, metadata, expiry and revocation;
   * `add` and `revoke` (promises: they write through `store`, shared by every replica on it)
   * and `list` on the middleware manage keys at run time.
   *
   * @example
   * ```ts
   * const keys = apiKeyAuth({ keys: [{ name: 'ci', keyHash: 'sha256:...', scopes: ['deploy'] }], location: { header: { name: 'x-api-key' } },
   *   store: redisStore({ client }) });
   * app.use(keys);
   * await keys.revoke('ci');
   * ```
   */
  (options: ApiKeyAuthOptions): Middleware & ApiKeyManager;
}

/** `customAuth(provider, options?)` */
export interface CustomAuthFactory<Middleware> {
  /**
   * Your own check: `provider.authenticate(credential, request)` returns an `AuthResult`.
   *
   * @example
   * ```ts
   * app.use(customAuth({ authenticate: async (token) => (token === 'open-sesame' ? AuthResult.ok({ subject: 'ali' }) : AuthResult.denied()) }));
   * ```
   */
  (provider: AuthProvider, options?: CustomAuthOptions): Middleware;
}

/** `anyAuth(...middlewares, options?)` */
export interface AnyAuthFactory<Middleware> {
  /**
   * The first scheme that authenticates wins; only its credential is stripped. Takes
   * middlewares made by `jwtAuth`, `basicAuth`, `apiKeyAuth` or `customAuth`; an options object
   * (`mode`, `publicPaths`, `delegateErrors`) may come last.
   *
   * @example
   * ```ts
   * app.use(anyAuth(apiKeyAuth({ keys }), jwtAuth({ issuer }), { mode: 'optional' }));
   * ```
   */
  (...middlewaresAndOptions: (Middleware | AnyAuthOptions)[]): Middleware;
}

/** `authorize(options)` */
export interface AuthorizeFactory<Check> {
  /**
   * CEL rules over `request`, `jwt`, `basicAuth`, `apiKey` and `auth`; 403 `access_denied` when
   * they refuse. Errors in a rule never grant access.
   *
   * @example
   * ```ts
   * app.use(jwtAuth({ issuer }));
   * app.use(authorize({ rules: ['request.path == "/admin" && jwt.groups.contains("admins")', { deny: 'request.method == "DELETE"' }] }));
   * ```
   */
  (options: AuthorizeOptions): Check;
}

/** `requireScopes(...scopes, options?)` */
export interface RequireScopesFactory<Check> {
  /**
   * 403 `insufficient_scope` unless the identity's `scopes` hold every scope, or an API-key
   * record granted them all (`scopes: ["*"]`; a token's `"*"` is just a scope). No identity:
   * 401. An options object (`{ delegateErrors: true }`) may come last.
   *
   * @example
   * ```ts
   * app.post('/agents', requireScopes('agents:write'), handler); // Express
   * app.use(requireScopes('agents:read', 'agents:write', { delegateErrors: true }));
   * ```
   */
  (...scopesAndOptions: [...scopes: string[], options: StepOptions] | string[]): Check;
}

/** `forwardIdentity({ headers, delegateErrors? })` */
export interface ForwardIdentityFactory<Check> {
  /**
   * Sets identity headers for the upstream from CEL expressions, after removing any the client sent.
   *
   * @example
   * ```ts
   * app.use(forwardIdentity({ headers: { 'x-user-id': 'auth.subject', 'x-user-email': 'jwt.email' } }));
   * ```
   */
  (options: ForwardIdentityStepOptions): Check;
}

/** `backendAuth(options)` */
export interface BackendAuthFactory<Backend> {
  /**
   * Puts the backend's credential on the request the proxy (or forwarder) after it sends, and
   * removes the client's: a key (header, query or cookie; presets `openai`, `anthropic`,
   * `azureOpenAI`), the validated JWT (`passthrough`), AWS SigV4 (`aws`), Google (`gcp`) or
   * Entra ID (`azure`) tokens. Mount it at the same path as the proxy, with the proxy's target
   * as `upstream`; `apply()` prepares a request your own code sends.
   *
   * @example
   * ```ts
   * // Express, before http-proxy-middleware; on Koa, before a forwarder reading ctx.req.
   * const target = 'https://api.openai.com';
   * app.use('/openai', jwtAuth({ issuer }), backendAuth({ openai: { apiKey: '$OPENAI_API_KEY' }, upstream: target }),
   *   createProxyMiddleware({ target, changeOrigin: true }));
   * ```
   */
  (options: BackendAuthOptions): Backend;
}

/** Every public factory of one adapter, typed with its middleware types. */
export interface AdapterFactories<Auth, Check, Backend> {
  jwtAuth: JwtAuthFactory<Auth>;
  mcpAuth: McpAuthFactory<Auth>;
  basicAuth: BasicAuthFactory<Auth>;
  apiKeyAuth: ApiKeyAuthFactory<Auth>;
  customAuth: CustomAuthFactory<Auth>;
  anyAuth: AnyAuthFactory<Auth>;
  authorize: AuthorizeFactory<Check>;
  requireScopes: RequireScopesFactory<Check>;
  forwardIdentity: ForwardIdentityFactory<Check>;
  backendAuth: BackendAuthFactory<Backend>;
}

const STEP_KEYS = keysOf<StepOptions>()('requireScopes', { delegateErrors: true });

/** `requireScopes('a', 'b', { delegateErrors })`: the scopes, and the options object if last. */
function scopesArguments(args: readonly unknown[]): { scopes: string[]; options: StepOptions } {
  const last = args.at(-1);
  const hasOptions = typeof last === 'object' && last !== null && !Array.isArray(last);
  const options = hasOptions ? (last as StepOptions) : {};
  refuseUnknownKeys(options, STEP_KEYS, '');
  refuseNonBoolean(options.delegateErrors, 'delegateErrors');
  return { scopes: (hasOptions ? args.slice(0, -1) : args) as string[], options };
}

/** `forwardIdentity({ headers, delegateErrors })`: the step's own options, and delegateErrors. */
function forwardArguments(options: ForwardIdentityStepOptions): {
  headers: ForwardIdentityOptions;
  step: StepOptions;
} {
  if (typeof options !== 'object' || options === null || !Object.hasOwn(options, 'delegateErrors')) {
    return { headers: options, step: {} };
  }
  const { delegateErrors, ...headers } = options;
  refuseNonBoolean(delegateErrors, 'delegateErrors');
  return { headers, step: { delegateErrors } };
}

/**
 * Every public middleware factory, written once: an adapter supplies its three wrappers and
 * exports the result under its own types.
 */
export function adapterFactories<Auth extends { close(): Promise<void> }, Check, Backend>(
  wrap: AdapterWrappers<Auth, Check, Backend>,
): AdapterFactories<Auth, Check, Backend> {
  const inbound = (handler: Inbound, options: InboundOptions): Auth =>
    withInbound(wrap.inbound(handler, options), handler);
  return {
    jwtAuth(options) {
      const { inbound: handler, revocations } = jwtInbound(options);
      return Object.assign(inbound(handler, options), { revoke: revocations.revoke.bind(revocations) });
    },
    mcpAuth(options) {
      const { inbound: handler, revocations, metadata } = mcpInbound(options);
      // Not made an anyAuth member (no withInbound): inside anyAuth the MCP checks would not run.
      const middleware = wrap.inbound(handler, options);
      const metadataHandler = wrap.inbound(handler.metadataOnly(), {});
      return Object.assign(middleware, {
        revoke: revocations.revoke.bind(revocations),
        metadata,
        metadataHandler,
      });
    },
    basicAuth: (options) => inbound(basicInbound(options), options),
    apiKeyAuth(options) {
      const { inbound: handler, keys } = apiKeyInbound(options);
      return Object.assign(inbound(handler, options), {
        add: keys.add.bind(keys),
        revoke: keys.revoke.bind(keys),
        list: keys.list.bind(keys),
      });
    },
    customAuth: (provider, options = {}) => inbound(customInbound(provider, options), options),
    anyAuth(...members) {
      const { members: handlers, options } = anyAuthArguments(members);
      return wrap.inbound(new AnyInbound(handlers, options), options);
    },
    authorize: (options) => wrap.check(authorizer(options), options),
    requireScopes(...args) {
      const { scopes, options } = scopesArguments(args);
      return wrap.check(scopeRequirement(scopes), options);
    },
    forwardIdentity(options) {
      const { headers, step } = forwardArguments(options);
      return wrap.check(identityForwarder(headers), step);
    },
    backendAuth(options) {
      const backend = new BackendAuth(options);
      if (backend.needsUpstream) {
        void backend.close();
        throw new ConfigError(
          'upstream',
          'is required in front of a proxy: this credential signs or names the upstream URL',
        );
      }
      return wrap.backend(backend, options);
    },
  };
}
