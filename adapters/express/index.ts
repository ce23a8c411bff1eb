/**
 * portcullis for Express 4 and 5: each inbound factory returns `(req, res, next)` middleware
 * with a `close()` for the timers and watchers it holds. The identity is on `req.auth`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { jwtAuth } from 'portcullis/express';
 *
 * const app = express();
 * app.use(jwtAuth({ issuer: 'https://id.example.com', audiences: ['api'] }));
 * app.get('/me', (req, res) => res.json({ user: req.auth?.subject }));
 * ```
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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
  type InboundResult,
  type OutgoingRequest,
  type PathFolding,
  type PreparedRequest,
  queryString,
  type RequestCheck,
  type RequestHost,
  renderRejection,
} from '../../src/index.js';

export * from '../../src/index.js';

declare global {
  namespace Express {
    interface Request {
      /** What portcullis authenticated (see DESIGN.md section 3). */
      auth?: Auth;
    }
  }
}

/** The parts of an Express request portcullis uses (Express 4 and 5 alike). */
export interface ExpressRequest extends IncomingMessage {
  url: string;
  originalUrl?: string;
  protocol?: string;
  query?: unknown;
  auth?: Auth;
  app?: { get(setting: string): unknown };
  /** cookie-parser's results, when it ran before us. */
  cookies?: unknown;
  signedCookies?: unknown;
  /** parseurl's caches of `url` and `originalUrl` (Express and its router read them). */
  _parsedUrl?: unknown;
  _parsedOriginalUrl?: unknown;
}

/** Plain Express middleware. */
export type ExpressMiddleware = (
  req: ExpressRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** Express middleware with a `close()` that releases its timers and watchers. */
export type ExpressAuthMiddleware = ExpressMiddleware & { close(): Promise<void> };

/** API key middleware; `add`, `revoke` and `list` manage keys at run time. */
export type ExpressApiKeyMiddleware = ExpressAuthMiddleware & ApiKeyManager;

/** backendAuth middleware; `apply()` prepares a request your own code sends. */
export type ExpressBackendMiddleware = ExpressAuthMiddleware & {
  apply(request: OutgoingRequest, context?: ApplyContext): Promise<PreparedRequest>;
};

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
function refuse(
  error: AuthError,
  res: ServerResponse,
  next: (error?: unknown) => void,
  delegate: boolean,
): void {
  if (delegate) {
    next(error);
    return;
  }
  const rejection = renderRejection(error);
  res.statusCode = rejection.status;
  for (const [name, value] of Object.entries(rejection.headers)) res.setHeader(name, value);
  res.end(rejection.body);
}

/** Wraps a core inbound handler as Express middleware. */
export function expressInbound(inbound: InboundHandler, options: InboundOptions): ExpressAuthMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: ExpressMiddleware = (req, res, next) => {
    const proceed = (result: InboundResult) => {
      if (result.error !== undefined) return refuse(result.error, res, next, delegate);
      if (result.auth !== undefined) req.auth = result.auth;
      next();
    };
    let result: InboundResult | Promise<InboundResult>;
    try {
      result = inbound.handle(new ExpressHost(req), req.auth);
    } catch (error) {
      return next(error);
    }
    // Schemes that answer at once (API keys, cached tokens) go on without a promise.
    if (result instanceof Promise) result.then(proceed, next);
    else proceed(result);
  };
  return Object.assign(middleware, { close: () => inbound.close() });
}

/** Wraps a core check (authorize, requireScopes, forwardIdentity) as Express middleware. */
export function expressCheck(
  step: RequestCheck,
  options: { delegateErrors?: boolean } = {},
): ExpressMiddleware {
  const delegate = options.delegateErrors === true;
  return (req, res, next) => {
    const error = step.check(new ExpressHost(req), req.auth);
    if (error === undefined) next();
    else refuse(error, res, next, delegate);
  };
}

/** Wraps the core backendAuth as Express middleware placed right before the proxy. */
export function expressBackend(
  backend: BackendAuth,
  options: { delegateErrors?: boolean } = {},
): ExpressBackendMiddleware {
  const delegate = options.delegateErrors === true;
  const middleware: ExpressMiddleware = (req, res, next) => {
    backend.forward(new ExpressHost(req), req.auth).then((error) => {
      if (error === undefined) next();
      else refuse(error, res, next, delegate);
    }, next);
  };
  return Object.assign(middleware, {
    close: () => backend.close(),
    apply: (request: OutgoingRequest, context?: ApplyContext) => backend.apply(request, context),
  });
}

const factories = adapterFactories({ inbound: expressInbound, check: expressCheck, backend: expressBackend });

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
 * app.use('/admin', basicAuth({ htpasswd: { file: '/etc/gateway/htpasswd' }, realm: 'Admin' }));
 * ```
 */
export const basicAuth = factories.basicAuth;

/**
 * API keys looked up by SHA-256 digest, with scopes, metadata, expiry and revocation.
 *
 * @example
 * ```ts
 * const keys = apiKeyAuth({ keys: [{ name: 'ci', keyHash: 'sha256:...', scopes: ['deploy'] }], location: { header: { name: 'x-api-key' } } });
 * app.use('/v1', keys);
 * keys.revoke('ci');
 * ```
 */
export const apiKeyAuth: (...args: Parameters<typeof factories.apiKeyAuth>) => ExpressApiKeyMiddleware =
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
 * app.use(jwtAuth({ issuer }), authorize({ rules: ['request.path == "/admin" && jwt.groups.contains("admins")', { deny: 'request.method == "DELETE"' }] }));
 * ```
 */
export const authorize = factories.authorize;

/**
 * 403 `insufficient_scope` unless `req.auth.scopes` holds every scope, or an API-key record
 * granted them all (`scopes: ["*"]`; a token's `"*"` is just a scope). No identity: 401.
 *
 * @example
 * ```ts
 * app.post('/agents', requireScopes('agents:write'), handler);
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
 * Puts the backend's credential on the request the proxy after it forwards, and removes the
 * client's: a key (header, query or cookie; presets `openai`, `anthropic`, `azureOpenAI`), the
 * validated JWT (`passthrough`), AWS SigV4 (`aws`), Google (`gcp`) or Entra ID (`azure`) tokens.
 * Mount it at the same path as the proxy, with the proxy's target as `upstream`.
 *
 * @example
 * ```ts
 * import { createProxyMiddleware } from 'http-proxy-middleware';
 * const target = 'https://api.openai.com';
 * app.use('/openai', jwtAuth({ issuer }), backendAuth({ openai: { apiKey: '$OPENAI_API_KEY' }, upstream: target }),
 *   createProxyMiddleware({ target, changeOrigin: true }));
 * ```
 */
export const backendAuth = factories.backendAuth;
