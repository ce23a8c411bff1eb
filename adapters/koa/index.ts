/**
 * portcullis for Koa 2 and 3: each factory returns `(ctx, next)` middleware with a `close()`
 * for the timers and watchers it holds. The identity is on `ctx.state.auth`.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { jwtAuth } from 'portcullis/koa';
 *
 * const app = new Koa();
 * app.use(jwtAuth({ issuer: 'https://id.example.com', audiences: ['api'] }));
 * app.use((ctx) => { ctx.body = { user: ctx.state.auth?.subject }; });
 * ```
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import {
  type AnyAuthOptions,
  AnyInbound,
  type ApiKeyAuthOptions,
  type ApiKeyManager,
  type Auth,
  type AuthorizeOptions,
  type AuthProvider,
  anyAuthArguments,
  apiKeyInbound,
  authorizer,
  type BasicAuthOptions,
  basicInbound,
  type CustomAuthOptions,
  customInbound,
  type ForwardIdentityOptions,
  Inbound,
  type InboundHandler,
  type InboundOptions,
  identityForwarder,
  type JwtAuthOptions,
  jwtInbound,
  pathOf,
  type RequestCheck,
  type RequestHost,
  renderRejection,
  scopeRequirement,
  withInbound,
} from '../../src/index.js';

export * from '../../src/index.js';

/** `ctx.state` as portcullis leaves it. */
export interface PortcullisState {
  auth?: Auth;
}

/** The parts of a Koa context portcullis uses (Koa 2 and 3 alike). */
export interface KoaContext {
  req: IncomingMessage;
  url: string;
  originalUrl: string;
  protocol: string;
  state: PortcullisState;
  status: number;
  body: unknown;
  set(field: string, value: string | string[]): void;
}

/** Koa middleware with a `close()` that releases its timers and watchers. */
export interface KoaAuthMiddleware {
  (ctx: KoaContext, next: () => Promise<unknown>): Promise<void>;
  close(): Promise<void>;
}

function requestHost(ctx: KoaContext): RequestHost {
  return {
    message: ctx.req,
    path: pathOf(ctx.originalUrl),
    protocol: ctx.protocol,
    editUrl(edit) {
      ctx.url = edit(ctx.url);
      ctx.originalUrl = edit(ctx.originalUrl);
    },
  };
}

/** Wraps a core inbound handler as Koa middleware. */
export function koaInbound(inbound: InboundHandler, options: InboundOptions): KoaAuthMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware = async (ctx: KoaContext, next: () => Promise<unknown>) => {
    const result = await inbound.handle(requestHost(ctx), ctx.state.auth);
    if (result.error === undefined) {
      if (result.auth !== undefined) ctx.state.auth = result.auth;
      await next();
      return;
    }
    if (delegate) throw result.error;
    const rejection = renderRejection(result.error);
    ctx.status = rejection.status;
    for (const [name, value] of Object.entries(rejection.headers)) ctx.set(name, value);
    ctx.body = rejection.body;
  };
  const made = Object.assign(middleware, { close: () => inbound.close() });
  return inbound instanceof Inbound ? withInbound(made, inbound) : made;
}

/**
 * Verifies JWTs against JWKS (URL, file, inline or OIDC discovery) or an explicit HMAC secret.
 *
 * @example
 * ```ts
 * app.use(jwtAuth({ issuer: 'https://id.example.com', audiences: ['api'], jwks: { url: 'https://id.example.com/jwks' } }));
 * ```
 */
export function jwtAuth(options: JwtAuthOptions): KoaAuthMiddleware {
  return koaInbound(jwtInbound(options), options);
}

/**
 * HTTP Basic against an htpasswd file (apr1, bcrypt, {SHA}, SHA-crypt), re-read when it changes.
 *
 * @example
 * ```ts
 * app.use(basicAuth({ htpasswd: { file: '/etc/gateway/htpasswd' }, realm: 'Admin' }));
 * ```
 */
export function basicAuth(options: BasicAuthOptions): KoaAuthMiddleware {
  return koaInbound(basicInbound(options), options);
}

/** API key middleware; `add`, `revoke` and `list` manage keys at run time. */
export type KoaApiKeyMiddleware = KoaAuthMiddleware & ApiKeyManager;

/**
 * API keys looked up by SHA-256 digest, with scopes, metadata, expiry and revocation.
 *
 * @example
 * ```ts
 * const keys = apiKeyAuth({ keys: [{ name: 'ci', keyHash: 'sha256:...', scopes: ['deploy'] }], location: { header: { name: 'x-api-key' } } });
 * app.use(keys);
 * keys.revoke('ci');
 * ```
 */
export function apiKeyAuth(options: ApiKeyAuthOptions): KoaApiKeyMiddleware {
  const { inbound, keys } = apiKeyInbound(options);
  return Object.assign(koaInbound(inbound, options), {
    add: keys.add.bind(keys),
    revoke: keys.revoke.bind(keys),
    list: keys.list.bind(keys),
  });
}

/**
 * Your own check: `provider.authenticate(credential, request)` returns an `AuthResult`.
 *
 * @example
 * ```ts
 * app.use(customAuth({ authenticate: async (token) => (token === 'open-sesame' ? AuthResult.ok({ subject: 'ali' }) : AuthResult.denied()) }));
 * ```
 */
export function customAuth(provider: AuthProvider, options: CustomAuthOptions = {}): KoaAuthMiddleware {
  return koaInbound(customInbound(provider, options), options);
}

/**
 * The first scheme that authenticates wins; only its credential is stripped. An options object
 * (`mode`, `publicPaths`, `delegateErrors`) may come last.
 *
 * @example
 * ```ts
 * app.use(anyAuth(apiKeyAuth({ keys }), jwtAuth({ issuer })));
 * ```
 */
export function anyAuth(...members: (KoaAuthMiddleware | AnyAuthOptions)[]): KoaAuthMiddleware {
  const { members: inbounds, options } = anyAuthArguments(members);
  return koaInbound(new AnyInbound(inbounds, options), options);
}

/** Wraps a core check (authorize, requireScopes, forwardIdentity) as Koa middleware. */
export function koaCheck(step: RequestCheck, options: { delegateErrors?: boolean } = {}): KoaMiddleware {
  return async (ctx, next) => {
    const error = step.check(requestHost(ctx), ctx.state.auth);
    if (error === undefined) {
      await next();
      return;
    }
    if (options.delegateErrors === true) throw error;
    const rejection = renderRejection(error);
    ctx.status = rejection.status;
    for (const [name, value] of Object.entries(rejection.headers)) ctx.set(name, value);
    ctx.body = rejection.body;
  };
}

/** Plain Koa middleware. */
export type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => Promise<void>;

/**
 * CEL rules over `request`, `jwt`, `basicAuth`, `apiKey` and `auth`; 403 `access_denied` when
 * they refuse. Errors in a rule never grant access.
 *
 * @example
 * ```ts
 * app.use(jwtAuth({ issuer }));
 * app.use(authorize({ rules: ['request.path == "/admin" && jwt.groups.contains("admins")'] }));
 * ```
 */
export function authorize(options: AuthorizeOptions): KoaMiddleware {
  return koaCheck(authorizer(options), options);
}

/**
 * 403 `insufficient_scope` unless `ctx.state.auth.scopes` holds every scope (`"*"` holds all).
 *
 * @example
 * ```ts
 * app.use(requireScopes('agents:write'));
 * ```
 */
export function requireScopes(...scopes: string[]): KoaMiddleware {
  return koaCheck(scopeRequirement(scopes));
}

/**
 * Sets identity headers for the upstream from CEL expressions, after removing any the client sent.
 *
 * @example
 * ```ts
 * app.use(forwardIdentity({ headers: { 'x-user-id': 'auth.subject', 'x-user-email': 'jwt.email' } }));
 * ```
 */
export function forwardIdentity(options: ForwardIdentityOptions): KoaMiddleware {
  return koaCheck(identityForwarder(options));
}
