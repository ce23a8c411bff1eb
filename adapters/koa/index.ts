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
  type Auth,
  Inbound,
  type InboundOptions,
  type JwtAuthOptions,
  jwtAuthenticator,
  pathOf,
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

/** Wraps a core {@link Inbound} as Koa middleware. */
export function koaInbound(inbound: Inbound, options: InboundOptions): KoaAuthMiddleware {
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
  return Object.assign(middleware, { close: () => inbound.close() });
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
  return koaInbound(new Inbound(options, () => jwtAuthenticator(options)), options);
}
