/**
 * portcullis for Express 4 and 5, without the global `Express.Request.auth` declaration: the
 * module `portcullis/express/coexist`, for a project where another library (such as
 * express-oauth2-jwt-bearer) declares `req.auth` with its own type. Read the identity with
 * `authOf(req)`. `portcullis/express` is this module plus that declaration.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { authOf, jwtAuth } from 'portcullis/express/coexist';
 *
 * const app = express();
 * app.get('/me', jwtAuth({ issuer: 'https://id.example.com', audiences: ['api'] }), (req, res) =>
 *   res.json({ user: authOf(req)?.subject }));
 * ```
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AdapterFactories, adapterFactories, type StepOptions } from '../../src/adapter-kit.js';
import type { ApiKeyManager } from '../../src/apikey/authenticator.js';
import type { RequestCheck } from '../../src/authz/authorize.js';
import type { ApplyContext, BackendAuth } from '../../src/backend/backend-auth.js';
import type { OutgoingRequest, PreparedRequest } from '../../src/backend/forwarded.js';
import type { AuthError } from '../../src/errors.js';
import type { InboundHandler } from '../../src/factories.js';
import { canonicalPath, DEFAULT_FOLDING, type PathFolding } from '../../src/http/canonical-path.js';
import { queryString } from '../../src/http/query.js';
import { renderRejection } from '../../src/http/rejection.js';
import type { RequestHost } from '../../src/http/request-host.js';
import { type Auth, isInboundIdentity } from '../../src/identity.js';
import type { Answer, InboundOptions, InboundResult } from '../../src/inbound.js';
import { expressOnKoa, isWrongAdapterCall } from '../wrong-adapter.js';

export { AuthResult } from '../../src/custom/auth-result.js';
export { AuthError, ConfigError } from '../../src/errors.js';
export * from '../../src/public-types.js';
export { memoryStore } from '../../src/store/memory.js';
export { redisStore } from '../../src/store/redis.js';
export { replayCache } from '../../src/store/replay-cache.js';

/** The parts of an Express request portcullis uses (Express 4 and 5 alike). */
interface ExpressRequest extends IncomingMessage {
  url: string;
  originalUrl?: string;
  protocol?: string;
  query?: unknown;
  auth?: Auth;
  app?: { get(setting: string): unknown };
  /** body-parser's result, and its mark that it read the stream. */
  body?: unknown;
  _body?: boolean;
  /** cookie-parser's results, when it ran before us. */
  cookies?: unknown;
  signedCookies?: unknown;
  /** parseurl's caches of `url` and `originalUrl` (Express and its router read them). */
  _parsedUrl?: unknown;
  _parsedOriginalUrl?: unknown;
}

/** Express's `next`: called with nothing to go on, with an error to hand it over. */
export type ExpressNext = (error?: unknown) => void;

/**
 * Plain Express middleware. Generic in the request, so that placing it inline
 * (`app.get('/x', jwtAuth(...), (req, res) => ...)`) leaves Express free to infer the route's
 * params, body and query types from the handlers after it (`req.query` stays `ParsedQs`),
 * on @types/express 4 and 5 and inside a Router.
 */
export type ExpressMiddleware = <Request extends IncomingMessage>(
  req: Request,
  res: ServerResponse,
  next: ExpressNext,
) => void;

/** Express middleware with a `close()` that releases its timers and watchers. */
export type ExpressAuthMiddleware = ExpressMiddleware & { close(): Promise<void> };

/** API key middleware; `add`, `revoke` and `list` manage keys at run time. */
export type ExpressApiKeyMiddleware = ExpressAuthMiddleware & ApiKeyManager;

/** backendAuth middleware; `apply()` prepares a request your own code sends. */
export type ExpressBackendMiddleware = ExpressAuthMiddleware & {
  apply(request: OutgoingRequest, context?: ApplyContext): Promise<PreparedRequest>;
};

// The identities portcullis set on `req.auth`: what authOf() returns (another library's
// `req.auth`, express-oauth2-jwt-bearer's say, is not one). Told apart by the pipeline's own
// record (isInboundIdentity), not by a set of this adapter's. An inbound scheme itself builds
// on whatever `req.auth` the request holds as its own property, as the Koa adapter does on
// `ctx.state.auth` (test/api-review.test.ts).

/** What portcullis put on `req.auth`, if anything: a portcullis identity or undefined. */
function identityOn(req: ExpressRequest): Auth | undefined {
  const auth: unknown = req.auth;
  return typeof auth === 'object' && auth !== null && isInboundIdentity(auth) ? auth : undefined;
}

/**
 * The identity portcullis attached to this request, typed, without relying on the global
 * `Express.Request.auth` declaration: the way to read it from `portcullis/express/coexist`,
 * beside a library that declares `req.auth` with another type.
 *
 * @example
 * ```ts
 * import { authOf, jwtAuth } from 'portcullis/express/coexist';
 * app.get('/me', jwtAuth({ issuer }), (req, res) => res.json({ user: authOf(req)?.subject }));
 * ```
 */
export function authOf(req: IncomingMessage): Auth | undefined {
  return identityOn(req as ExpressRequest);
}

/** Each app's `case sensitive routing` and `strict routing`, read on its first request. */
const foldings = new WeakMap<object, PathFolding>();

/** How the app routing this request folds paths: its settings, as its router reads them. */
function appFolding(app: ExpressRequest['app']): PathFolding {
  if (app === undefined) return DEFAULT_FOLDING;
  let folding = foldings.get(app);
  if (folding === undefined) {
    folding = {
      caseSensitive: Boolean(app.get('case sensitive routing')),
      strict: Boolean(app.get('strict routing')),
    };
    foldings.set(app, folding);
  }
  return folding;
}

/**
 * One Express request as the core sees it. The path and protocol are read only when a step
 * needs them (public paths, CEL rules): Express gives every request its own hidden class when
 * it swaps the request's prototype, so each property read on `req` is a slow, uncached lookup,
 * and `req.protocol` is a getter that makes several more.
 */
class ExpressHost implements RequestHost {
  readonly message: ExpressRequest;
  // null: not computed yet; undefined: refused as ambiguous.
  private canonical: string | undefined | null = null;
  private cachedFolding: PathFolding | undefined;

  constructor(req: ExpressRequest) {
    this.message = req;
  }

  get path(): string | undefined {
    if (this.canonical === null) {
      this.canonical = canonicalPath(this.message.originalUrl ?? this.message.url, this.folding);
    }
    return this.canonical;
  }

  get folding(): PathFolding {
    this.cachedFolding ??= appFolding(this.message.app);
    return this.cachedFolding;
  }

  get target(): string {
    return this.message.originalUrl ?? this.message.url ?? '/';
  }

  get protocol(): string {
    return this.message.protocol ?? 'http';
  }

  editUrl(edit: (url: string) => string): void {
    const req = this.message;
    req.url = edit(req.url);
    if (typeof req.originalUrl === 'string') req.originalUrl = edit(req.originalUrl);
    // Express 4 parses the query once into an own property; Express 5 parses on each read.
    const parse = Object.hasOwn(req, 'query') ? req.app?.get('query parser fn') : undefined;
    if (typeof parse === 'function') req.query = parse(queryString(req.url));
    // parseurl re-parses a changed URL on its next call; until then its cache keeps the old one.
    if (req._parsedUrl !== undefined) req._parsedUrl = undefined;
    if (req._parsedOriginalUrl !== undefined) req._parsedOriginalUrl = undefined;
    this.canonical = null;
  }

  get parsedBody(): { value: unknown } | undefined {
    // body-parser (express.json() and its siblings) sets `_body` once it has read the stream;
    // Express 4's parsers set `req.body = {}` even when they skip a request, which is no body.
    const req = this.message;
    if (req._body === true || (req.readableDidRead && req.body !== undefined)) return { value: req.body };
    return undefined;
  }

  forgetCookies(spelled: (name: string) => boolean): void {
    // cookie-parser parses the Cookie header once, into own properties, often before us.
    const req = this.message;
    for (const parsed of [req.cookies, req.signedCookies]) {
      if (typeof parsed !== 'object' || parsed === null) continue;
      const record = parsed as Record<string, unknown>;
      for (const name of Object.keys(record)) if (spelled(name)) delete record[name];
    }
  }
}

/** Answers a refusal, or hands it to the app's error handler when asked to. */
function refuse(error: AuthError, res: ServerResponse, next: ExpressNext, delegate: boolean): void {
  if (delegate) {
    next(error);
    return;
  }
  const rejection = renderRejection(error);
  res.statusCode = rejection.status;
  for (const [name, value] of Object.entries(rejection.headers)) res.setHeader(name, value);
  res.end(rejection.body);
}

/** Writes a response the middleware gives itself (mcpAuth's metadata documents). */
function answer(given: Answer, res: ServerResponse): void {
  res.statusCode = given.status;
  for (const [name, value] of Object.entries(given.headers)) res.setHeader(name, value);
  res.end(given.body);
}

type Handle = (req: ExpressRequest, res: ServerResponse, next: ExpressNext) => void;

/**
 * Types `handle` as the generic {@link ExpressMiddleware}: it reads only what every Express
 * request has (see ExpressRequest), so any Request type Express infers may come in.
 */
function generic(handle: Handle): ExpressMiddleware {
  return handle as (req: IncomingMessage, res: ServerResponse, next: ExpressNext) => void;
}

/** Wraps a core inbound handler as Express middleware. */
function expressInbound(inbound: InboundHandler, options: InboundOptions): ExpressAuthMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: Handle = (req, res, next) => {
    if (isWrongAdapterCall(next)) return expressOnKoa(middleware, req);
    const proceed = (result: InboundResult) => {
      if (result.error !== undefined) return refuse(result.error, res, next, delegate);
      if (result.answer !== undefined) return answer(result.answer, res);
      if (result.auth !== undefined) req.auth = result.auth;
      if (result.headers !== undefined)
        for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
      next();
    };
    // `req.auth` read only when the request holds it itself, as every identity set below is
    // held: reading a property the request lacks walked Express's whole prototype chain,
    // uncached (each request has a hidden class of its own): 3.5k instructions of a request,
    // 2.4k net of the own-property test (express-jwt-new, callgrind).
    const existing = Object.hasOwn(req, 'auth') ? req.auth : undefined;
    let result: InboundResult | Promise<InboundResult>;
    try {
      result = inbound.handle(new ExpressHost(req), existing);
    } catch (error) {
      return next(error);
    }
    // Schemes that answer at once (API keys, cached tokens) go on without a promise.
    if (result instanceof Promise) result.then(proceed, next);
    else proceed(result);
  };
  return Object.assign(generic(middleware), { close: () => inbound.close() });
}

/** Wraps a core check (authorize, requireScopes, forwardIdentity) as Express middleware. */
function expressCheck(step: RequestCheck, options: StepOptions): ExpressMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: Handle = (req, res, next) => {
    if (isWrongAdapterCall(next)) return expressOnKoa(middleware, req);
    const error = step.check(new ExpressHost(req), req.auth);
    if (error === undefined) next();
    else refuse(error, res, next, delegate);
  };
  return generic(middleware);
}

/** Wraps the core backendAuth as Express middleware placed right before the proxy. */
function expressBackend(backend: BackendAuth, options: StepOptions): ExpressBackendMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: Handle = (req, res, next) => {
    if (isWrongAdapterCall(next)) return expressOnKoa(middleware, req);
    backend.forward(new ExpressHost(req), req.auth).then((error) => {
      if (error === undefined) next();
      else refuse(error, res, next, delegate);
    }, next);
  };
  return Object.assign(generic(middleware), {
    close: () => backend.close(),
    apply: (request: OutgoingRequest, context?: ApplyContext) => backend.apply(request, context),
  });
}

const factories: AdapterFactories<ExpressAuthMiddleware, ExpressMiddleware, ExpressBackendMiddleware> =
  adapterFactories({ inbound: expressInbound, check: expressCheck, backend: expressBackend });

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
