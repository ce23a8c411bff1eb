import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { koaFetchForwarder } from '../../examples/koa-fetch-forwarder.js';
import type { Auth } from '../../src/index.js';
import { closeServer, listenOnLoopback } from './loopback.js';

/**
 * One behaviour table, run against every adapter: a `Framework` builds a real app from a list
 * of portcullis middlewares (made by the adapter module it hands the test) and an echo route
 * that reports what the app saw after them.
 */
export type AdapterModule =
  | typeof import('../../adapters/express/index.js')
  | typeof import('../../adapters/koa/index.js');

/** What the echo route reports. */
export interface Echo {
  auth: Auth | null;
  url: string;
  originalUrl: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  /** Koa only: the other URL views a Koa app reads (`ctx.href`, `ctx.URL`, ...). */
  koa?: {
    href: string;
    URL: string;
    requestOriginalUrl: string;
    querystring: string;
    search: string;
    path: string;
  };
}

export interface Framework {
  name: string;
  /** The adapter module: `portcullis/express` or `portcullis/koa`. */
  lib: AdapterModule;
  /**
   * A listening server running `middlewares` then the echo route, or, with `forwardTo`, a real
   * forwarder to that upstream (Express: http-proxy-middleware; Koa: a fetch forwarder).
   */
  serve(middlewares: unknown[], options?: ServeOptions): Promise<TestServer>;
}

export interface ServeOptions {
  errorHandler?: boolean;
  forwardTo?: string;
  /** Express only: the app's 'query parser' setting ('simple', 'extended', a function or false). */
  queryParser?: 'simple' | 'extended' | false | ((query: string) => object);
}

export interface TestServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(handler: Handler): Promise<TestServer> {
  // Tokens of 20 KB must reach the middleware, not bounce off Node's 16 KB header limit.
  const server = createServer({ maxHeaderSize: 64 * 1024 }, handler);
  await listenOnLoopback(server);
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => closeServer(server),
  };
}

type ExpressFactory = typeof import('express');
type KoaClass = typeof import('koa');

function expressFramework(name: string, express: ExpressFactory): Framework {
  return {
    name,
    lib: undefined as unknown as AdapterModule,
    async serve(middlewares, options = {}) {
      const app = express();
      if (options.queryParser !== undefined) app.set('query parser', options.queryParser);
      for (const middleware of middlewares) app.use(middleware as Parameters<typeof app.use>[0]);
      if (options.forwardTo !== undefined) {
        app.use(createProxyMiddleware({ target: options.forwardTo, changeOrigin: true }));
      }
      app.use((req, res) => {
        res.json({
          auth: req.auth ?? null,
          url: req.url,
          originalUrl: req.originalUrl,
          query: req.query,
          headers: req.headers,
          rawHeaders: req.rawHeaders,
        } satisfies Echo);
      });
      if (options.errorHandler) {
        app.use(
          (
            error: { status?: number; code?: string },
            _req: unknown,
            res: { status(code: number): { json(body: unknown): void } },
            _next: unknown,
          ) => {
            res.status(error.status ?? 500).json({ handledBy: 'app', code: error.code });
          },
        );
      }
      return listen(app as unknown as Handler);
    },
  };
}

function koaFramework(name: string, Koa: KoaClass): Framework {
  return {
    name,
    lib: undefined as unknown as AdapterModule,
    async serve(middlewares, options = {}) {
      const app = new Koa();
      app.silent = true;
      if (options.errorHandler) {
        app.use(async (ctx, next) => {
          try {
            await next();
          } catch (error) {
            const { status, code } = error as { status?: number; code?: string };
            ctx.status = status ?? 500;
            ctx.body = { handledBy: 'app', code };
          }
        });
      }
      for (const middleware of middlewares) app.use(middleware as Parameters<typeof app.use>[0]);
      if (options.forwardTo !== undefined) app.use(koaFetchForwarder(options.forwardTo));
      app.use((ctx) => {
        ctx.body = {
          auth: (ctx.state.auth as Auth | undefined) ?? null,
          url: ctx.url,
          originalUrl: ctx.originalUrl,
          query: ctx.query,
          headers: ctx.headers,
          rawHeaders: ctx.req.rawHeaders,
          koa: {
            href: ctx.href,
            URL: ctx.URL.href,
            requestOriginalUrl: ctx.request.originalUrl,
            querystring: ctx.querystring,
            search: ctx.search,
            path: ctx.path,
          },
        } satisfies Echo;
      });
      return listen(app.callback());
    },
  };
}

/**
 * The frameworks under test: Express 5 and Koa 3 by default; Express 4 and Koa 2 when
 * PORTCULLIS_FRAMEWORKS=legacy (the compatibility run).
 */
export async function frameworks(): Promise<Framework[]> {
  const legacy = process.env.PORTCULLIS_FRAMEWORKS === 'legacy';
  const expressLib = await import('../../adapters/express/index.js');
  const koaLib = await import('../../adapters/koa/index.js');
  const express = legacy
    ? expressFramework('express4', (await import('express4')).default as unknown as ExpressFactory)
    : expressFramework('express5', (await import('express')).default);
  const koa = legacy
    ? koaFramework('koa2', (await import('koa2')).default as unknown as KoaClass)
    : koaFramework('koa3', (await import('koa')).default);
  express.lib = expressLib;
  koa.lib = koaLib;
  return [express, koa];
}
