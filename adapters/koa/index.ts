/**
 * portcullis for Koa 2 and 3: each inbound factory returns `(ctx, next)` middleware with a
 * `close()` for the timers and watchers it holds. The identity is on `ctx.state.auth`.
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
import { keysOf, refuseNonBoolean, refuseUnknownKeys } from '../../src/config/known-keys.js';
import {
  type ApiKeyManager,
  type ApplyContext,
  type Auth,
  type AuthError,
  adapterFactories,
  type BackendAuth,
  canonicalPath,
  DEFAULT_FOLDING,
  type InboundHandler,
  type InboundOptions,
  type OutgoingRequest,
  type PathFolding,
  type PreparedRequest,
  type RequestCheck,
  type RequestHost,
  renderRejection,
} from '../../src/index.js';

export * from '../../src/index.js';

/** `ctx.state` as portcullis leaves it. */
export interface PortcullisState {
  auth?: Auth;
}

/** The parts of a Koa context portcullis uses (Koa 2 and 3 alike). */
export interface KoaContext {
  app?: object;
  req: IncomingMessage;
  /** Keeps its own `originalUrl` (read by `ctx.href` and `ctx.URL`) and memoizes `ctx.URL`. */
  request: KoaRequestViews;
  url: string;
  originalUrl: string;
  protocol: string;
  state: PortcullisState;
  status: number;
  body: unknown;
  set(field: string, value: string | string[]): void;
}

/** The URL views `ctx.request` keeps beside `ctx.req.url` (Koa 2 and 3). */
export interface KoaRequestViews {
  originalUrl: string;
  memoizedURL?: unknown;
  _querycache?: unknown;
}

/** Plain Koa middleware. */
export type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => Promise<void>;

/** Koa middleware with a `close()` that releases its timers and watchers. */
export type KoaAuthMiddleware = KoaMiddleware & { close(): Promise<void> };

/** API key middleware; `add`, `revoke` and `list` manage keys at run time. */
export type KoaApiKeyMiddleware = KoaAuthMiddleware & ApiKeyManager;

/** backendAuth middleware; `apply()` prepares a request your own code sends. */
export type KoaBackendMiddleware = KoaAuthMiddleware & {
  apply(request: OutgoingRequest, context?: ApplyContext): Promise<PreparedRequest>;
};

/** Each app's routing as `koaRouting()` declared it; @koa/router's defaults otherwise. */
const foldings = new WeakMap<object, PathFolding>();

/**
 * Tells portcullis how this Koa app's router compares paths, so that public paths and
 * `request.path` in rules fold paths exactly as it routes them. Koa has no router of its own;
 * the default is @koa/router's (`sensitive: false`, `strict: false`): `/Admin/` is `/admin`.
 * Call it once, before the app serves, when your router is case-sensitive or strict.
 *
 * @example
 * ```ts
 * const router = new Router({ sensitive: true, strict: true });
 * koaRouting(app, { caseSensitive: true, strict: true });
 * ```
 */
export function koaRouting(app: object, routing: { caseSensitive?: boolean; strict?: boolean }): void {
  // The same check as every options object: a typo (or @koa/router's own `sensitive`) is named.
  refuseUnknownKeys(routing, ROUTING_KEYS, '');
  refuseNonBoolean(routing.caseSensitive, 'caseSensitive');
  refuseNonBoolean(routing.strict, 'strict');
  foldings.set(app, {
    caseSensitive: routing.caseSensitive === true,
    strict: routing.strict === true,
  });
}

const ROUTING_KEYS = keysOf<{ caseSensitive?: boolean; strict?: boolean }>()(
  'koaRouting',
  { caseSensitive: true, strict: true },
  { sensitive: 'caseSensitive' },
);

/** One Koa request as the core sees it; the path and protocol are read only when a step needs them. */
class KoaHost implements RequestHost {
  readonly message: IncomingMessage;
  private readonly ctx: KoaContext;
  // null: not computed yet; undefined: refused as ambiguous.
  private canonical: string | undefined | null = null;

  constructor(ctx: KoaContext) {
    this.ctx = ctx;
    this.message = ctx.req;
  }

  get path(): string | undefined {
    if (this.canonical === null) this.canonical = canonicalPath(this.ctx.originalUrl, this.folding);
    return this.canonical;
  }

  get folding(): PathFolding {
    const app = this.ctx.app;
    return (app !== undefined && foldings.get(app)) || DEFAULT_FOLDING;
  }

  get protocol(): string {
    return this.ctx.protocol;
  }

  editUrl(edit: (url: string) => string): void {
    const ctx = this.ctx;
    ctx.url = edit(ctx.url);
    ctx.originalUrl = edit(ctx.originalUrl);
    // ctx.querystring, ctx.query, ctx.search and ctx.path follow ctx.req.url by themselves;
    // ctx.href and ctx.URL read ctx.request.originalUrl (a copy of its own), and ctx.URL
    // and ctx.query keep what they parsed from the old one.
    const request = ctx.request;
    request.originalUrl = edit(request.originalUrl);
    if (request.memoizedURL !== undefined) request.memoizedURL = undefined;
    if (request._querycache !== undefined) request._querycache = undefined;
    // parseurl (behind ctx.path and ctx.querystring) re-parses a changed URL on its next call.
    const req = this.message as IncomingMessage & { _parsedUrl?: unknown };
    if (req._parsedUrl !== undefined) req._parsedUrl = undefined;
    this.canonical = null;
  }
}

/** Answers a refusal, or throws it to the app's error handling when asked to. */
function refuse(error: AuthError, ctx: KoaContext, delegate: boolean): void {
  if (delegate) throw error;
  const rejection = renderRejection(error);
  ctx.status = rejection.status;
  for (const [name, value] of Object.entries(rejection.headers)) ctx.set(name, value);
  ctx.body = rejection.body;
}

/** Wraps a core inbound handler as Koa middleware. */
export function koaInbound(inbound: InboundHandler, options: InboundOptions): KoaAuthMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: KoaMiddleware = async (ctx, next) => {
    const pending = inbound.handle(new KoaHost(ctx), ctx.state.auth);
    // Schemes that answer at once (API keys, cached tokens) go on without awaiting a promise.
    const result = pending instanceof Promise ? await pending : pending;
    if (result.error !== undefined) return refuse(result.error, ctx, delegate);
    if (result.auth !== undefined) ctx.state.auth = result.auth;
    await next();
  };
  return Object.assign(middleware, { close: () => inbound.close() });
}

/** Wraps a core check (authorize, requireScopes, forwardIdentity) as Koa middleware. */
export function koaCheck(step: RequestCheck, options: { delegateErrors?: boolean } = {}): KoaMiddleware {
  const delegate = options.delegateErrors === true;
  return async (ctx, next) => {
    const error = step.check(new KoaHost(ctx), ctx.state.auth);
    if (error !== undefined) return refuse(error, ctx, delegate);
    await next();
  };
}

/** Wraps the core backendAuth as Koa middleware placed right before the forwarder. */
export function koaBackend(
  backend: BackendAuth,
  options: { delegateErrors?: boolean } = {},
): KoaBackendMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: KoaMiddleware = async (ctx, next) => {
    const error = await backend.forward(new KoaHost(ctx), ctx.state.auth);
    if (error !== undefined) return refuse(error, ctx, delegate);
    await next();
  };
  return Object.assign(middleware, {
    close: () => backend.close(),
    apply: (request: OutgoingRequest, context?: ApplyContext) => backend.apply(request, context),
  });
}

const factories = adapterFactories({ inbound: koaInbound, check: koaCheck, backend: koaBackend });

/**
 * Verifies JWTs against JWKS (URL, file, inline or OIDC discovery) or an explicit HMAC secret.
 *
 * @example
 * ```ts
 * app.use(jwtAuth({ issuer: 'https://id.example.com', audiences: ['api'], jwks: { url: 'https://id.example.com/jwks' } }));
 * ```
 */
export const jwtAuth = factories.jwtAuth;

/**
 * HTTP Basic against an htpasswd file (apr1, bcrypt, {SHA}, SHA-crypt), re-read when it changes.
 *
 * @example
 * ```ts
 * app.use(basicAuth({ htpasswd: { file: '/etc/gateway/htpasswd' }, realm: 'Admin' }));
 * ```
 */
export const basicAuth = factories.basicAuth;

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
export const apiKeyAuth: (...args: Parameters<typeof factories.apiKeyAuth>) => KoaApiKeyMiddleware =
  factories.apiKeyAuth;

/**
 * Your own check: `provider.authenticate(credential, request)` returns an `AuthResult`.
 *
 * @example
 * ```ts
 * app.use(customAuth({ authenticate: async (token) => (token === 'open-sesame' ? AuthResult.ok({ subject: 'ali' }) : AuthResult.denied()) }));
 * ```
 */
export const customAuth = factories.customAuth;

/**
 * The first scheme that authenticates wins; only its credential is stripped. An options object
 * (`mode`, `publicPaths`, `delegateErrors`) may come last.
 *
 * @example
 * ```ts
 * app.use(anyAuth(apiKeyAuth({ keys }), jwtAuth({ issuer })));
 * ```
 */
export const anyAuth = factories.anyAuth;

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
export const authorize = factories.authorize;

/**
 * 403 `insufficient_scope` unless `ctx.state.auth.scopes` holds every scope, or an API-key record
 * granted them all (`scopes: ["*"]`; a token's `"*"` is just a scope). No identity: 401.
 *
 * @example
 * ```ts
 * app.use(requireScopes('agents:write'));
 * ```
 */
export const requireScopes = factories.requireScopes;

/**
 * Sets identity headers for the upstream from CEL expressions, after removing any the client sent.
 *
 * @example
 * ```ts
 * app.use(forwardIdentity({ headers: { 'x-user-id': 'auth.subject', 'x-user-email': 'jwt.email' } }));
 * ```
 */
export const forwardIdentity = factories.forwardIdentity;

/**
 * Puts the backend's credential on the request the forwarder after it sends, and removes the
 * client's: a key (header, query or cookie; presets `openai`, `anthropic`, `azureOpenAI`), the
 * validated JWT (`passthrough`), AWS SigV4 (`aws`), Google (`gcp`) or Entra ID (`azure`) tokens.
 * The request body stays readable from `ctx.req` after SigV4 has signed it.
 *
 * @example
 * ```ts
 * const upstream = 'https://bedrock-runtime.us-east-1.amazonaws.com';
 * app.use(jwtAuth({ issuer }));
 * app.use(backendAuth({ aws: { region: 'us-east-1' }, upstream }));
 * app.use(forwardTo(upstream)); // a proxy or a fetch forwarder reading ctx.req
 * ```
 */
export const backendAuth = factories.backendAuth;
