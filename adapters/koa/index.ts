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
import { type AdapterFactories, adapterFactories, type StepOptions } from '../../src/adapter-kit.js';
import type { ApiKeyManager } from '../../src/apikey/authenticator.js';
import type { RequestCheck } from '../../src/authz/authorize.js';
import type { ApplyContext, BackendAuth } from '../../src/backend/backend-auth.js';
import type { OutgoingRequest, PreparedRequest } from '../../src/backend/forwarded.js';
import { keysOf, refuseNonBoolean, refuseUnknownKeys } from '../../src/config/known-keys.js';
import type { AuthError } from '../../src/errors.js';
import type { InboundHandler } from '../../src/factories.js';
import { canonicalPath, DEFAULT_FOLDING, type PathFolding } from '../../src/http/canonical-path.js';
import { renderRejection } from '../../src/http/rejection.js';
import type { RequestHost } from '../../src/http/request-host.js';
import type { Auth } from '../../src/identity.js';
import type { Answer, InboundOptions } from '../../src/inbound.js';
import { isWrongAdapterCall, koaOnExpress } from '../wrong-adapter.js';

export { AuthResult } from '../../src/custom/auth-result.js';
export { AuthError, ConfigError } from '../../src/errors.js';
export * from '../../src/public-types.js';
export { memoryStore } from '../../src/store/memory.js';
export { redisStore } from '../../src/store/redis.js';
export { replayCache } from '../../src/store/replay-cache.js';

declare module 'koa' {
  /**
   * `ctx.state.auth`: what portcullis authenticated, typed in every `app.use` without naming
   * a state type (Koa's DefaultState is otherwise `any` throughout).
   */
  interface DefaultState {
    auth?: Auth;
  }
}

/** `ctx.state` as portcullis leaves it (also declared on Koa's DefaultState). */
export interface PortcullisState {
  auth?: Auth;
}

/** The parts of a Koa context portcullis uses (Koa 2 and 3 alike). */
interface KoaContext {
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
interface KoaRequestViews {
  originalUrl: string;
  memoizedURL?: unknown;
  _querycache?: unknown;
  /** What a body parser (koa-bodyparser, @koa/bodyparser, koa-body) parsed. */
  body?: unknown;
}

/** Koa's `next`. */
export type KoaNext = () => Promise<unknown>;

/**
 * Plain Koa middleware. Generic in the context, so that `app.use()` and a router infer
 * nothing from it: the app's state and context types stay what they were.
 */
export type KoaMiddleware = <Context extends { req: IncomingMessage }>(
  ctx: Context,
  next: KoaNext,
) => Promise<void>;

/** Koa middleware with a `close()` that releases its timers and watchers. */
export type KoaAuthMiddleware = KoaMiddleware & { close(): Promise<void> };

/** API key middleware; `add`, `revoke` and `list` manage keys at run time. */
export type KoaApiKeyMiddleware = KoaAuthMiddleware & ApiKeyManager;

/** backendAuth middleware; `apply()` prepares a request your own code sends. */
export type KoaBackendMiddleware = KoaAuthMiddleware & {
  apply(request: OutgoingRequest, context?: ApplyContext): Promise<PreparedRequest>;
};

/**
 * The identity portcullis attached (`ctx.state.auth`), typed whatever the app's state type:
 * the counterpart of `authOf(req)` on Express.
 */
export function authOf(ctx: { state?: unknown }): Auth | undefined {
  const state = ctx.state as PortcullisState | undefined;
  return state?.auth;
}

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

  get parsedBody(): { value: unknown } | undefined {
    // A body parser read the stream: the app acts on what it parsed (undefined if it kept none).
    const req = this.message;
    if (!(req.readableDidRead || req.readableEnded)) return undefined;
    return this.ctx.request.body === undefined ? undefined : { value: this.ctx.request.body };
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

/** Writes a response the middleware gives itself (mcpAuth's metadata documents). */
function answer(given: Answer, ctx: KoaContext): void {
  // Body first: assigning it makes Koa guess a status and a content type, both set after.
  // (Koa, like Node, leaves the body out of a HEAD answer, keeping its length.)
  ctx.body = given.body === '' ? null : given.body;
  ctx.status = given.status;
  for (const [name, value] of Object.entries(given.headers)) ctx.set(name, value);
}

type Handle = (ctx: KoaContext, next: KoaNext) => Promise<void>;

/** Types `handle` as the generic {@link KoaMiddleware}: it reads only what every context has. */
function generic(handle: Handle): KoaMiddleware {
  return handle as (ctx: { req: IncomingMessage }, next: KoaNext) => Promise<void>;
}

/** Wraps a core inbound handler as Koa middleware. */
function koaInbound(inbound: InboundHandler, options: InboundOptions): KoaAuthMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: Handle = async (ctx, next) => {
    if (isWrongAdapterCall(next)) return koaOnExpress(middleware, next);
    const pending = inbound.handle(new KoaHost(ctx), ctx.state.auth);
    // Schemes that answer at once (API keys, cached tokens) go on without awaiting a promise.
    const result = pending instanceof Promise ? await pending : pending;
    if (result.error !== undefined) return refuse(result.error, ctx, delegate);
    if (result.answer !== undefined) return answer(result.answer, ctx);
    if (result.auth !== undefined) ctx.state.auth = result.auth;
    await next();
  };
  return Object.assign(generic(middleware), { close: () => inbound.close() });
}

/** Wraps a core check (authorize, requireScopes, forwardIdentity) as Koa middleware. */
function koaCheck(step: RequestCheck, options: StepOptions): KoaMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: Handle = async (ctx, next) => {
    if (isWrongAdapterCall(next)) return koaOnExpress(middleware, next);
    const error = step.check(new KoaHost(ctx), ctx.state.auth);
    if (error !== undefined) return refuse(error, ctx, delegate);
    await next();
  };
  return generic(middleware);
}

/** Wraps the core backendAuth as Koa middleware placed right before the forwarder. */
function koaBackend(backend: BackendAuth, options: StepOptions): KoaBackendMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: Handle = async (ctx, next) => {
    if (isWrongAdapterCall(next)) return koaOnExpress(middleware, next);
    const error = await backend.forward(new KoaHost(ctx), ctx.state.auth);
    if (error !== undefined) return refuse(error, ctx, delegate);
    await next();
  };
  return Object.assign(generic(middleware), {
    close: () => backend.close(),
    apply: (request: OutgoingRequest, context?: ApplyContext) => backend.apply(request, context),
  });
}

const factories: AdapterFactories<KoaAuthMiddleware, KoaMiddleware, KoaBackendMiddleware> = adapterFactories({
  inbound: koaInbound,
  check: koaCheck,
  backend: koaBackend,
});

// The factories' documentation is on these types' call signatures (src/adapter-kit.ts), shown
// on every call: `jwtAuth(...)` is documented once for both adapters.
export const {
  jwtAuth,
  mcpAuth,
  basicAuth,
  apiKeyAuth,
  customAuth,
  anyAuth,
  authorize,
  requireScopes,
  forwardIdentity,
  backendAuth,
} = factories;
