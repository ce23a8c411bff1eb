import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import * as forExpress from '../adapters/express/index.js';
import * as forKoa from '../adapters/koa/index.js';
import type { JwtAuthOptions } from '../src/index.js';
import { forward } from './forward.js';
import { type DemoIssuer, startIssuer } from './issuer.js';
import { startEchoUpstream } from './upstream.js';

export const AUDIENCE = 'demo-api';

/** Ports of the demo's four servers; 0 picks free ones (tests). */
export interface DemoPorts {
  express: number;
  koa: number;
  issuer: number;
  upstream: number;
}

export interface Demo {
  issuer: DemoIssuer;
  urls: { express: string; koa: string; upstream: string };
  /** A token valid for an hour, for the printed curl lines. */
  token: string;
  /** Ready-to-paste commands, one per demo route and gateway. */
  curls(): string[];
  close(): Promise<void>;
}

/** Every route the demo offers, the same on both gateways. */
export const ROUTES = {
  health: '/health',
  me: '/me',
  api: '/api/hello',
  sse: '/sse',
} as const;

/** The same jwtAuth options for both gateways: the issuer's keys are found by OIDC discovery. */
function jwtOptions(issuer: DemoIssuer): { header: JwtAuthOptions; query: JwtAuthOptions } {
  const common = { issuer: issuer.url, audiences: [AUDIENCE] };
  return {
    header: { ...common, publicPaths: [ROUTES.health] },
    // EventSource cannot send headers, so this route takes the token from the query string.
    query: { ...common, location: { queryParameter: { name: 'access_token' } } },
  };
}

function startExpress(issuer: DemoIssuer, upstream: string, port: number) {
  const { jwtAuth } = forExpress;
  const headerToken = jwtAuth(jwtOptions(issuer).header);
  const queryToken = jwtAuth(jwtOptions(issuer).query);
  const app = express();
  app.get(ROUTES.sse, queryToken, (req, res) => {
    res.json({ gateway: 'express', subject: req.auth?.subject, urlSeenByApp: req.originalUrl });
  });
  app.use(headerToken);
  app.get(ROUTES.health, (_req, res) => {
    res.json({ ok: true });
  });
  app.get(ROUTES.me, (req, res) => {
    res.json({ gateway: 'express', auth: req.auth });
  });
  app.use('/api', (req, res) => forward(upstream, req, res, req.originalUrl));
  return { app, middlewares: [headerToken, queryToken], port };
}

function startKoa(issuer: DemoIssuer, upstream: string, port: number) {
  const { jwtAuth } = forKoa;
  const headerToken = jwtAuth(jwtOptions(issuer).header);
  const queryToken = jwtAuth(jwtOptions(issuer).query);
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (ctx.path !== ROUTES.sse) return next();
    await queryToken(ctx, async () => {
      ctx.body = { gateway: 'koa', subject: ctx.state.auth?.subject, urlSeenByApp: ctx.originalUrl };
    });
  });
  app.use(headerToken);
  app.use(async (ctx) => {
    if (ctx.path === ROUTES.health) ctx.body = { ok: true };
    else if (ctx.path === ROUTES.me) ctx.body = { gateway: 'koa', auth: ctx.state.auth };
    else if (ctx.path.startsWith('/api/')) {
      ctx.respond = false;
      forward(upstream, ctx.req, ctx.res, ctx.originalUrl);
    } else ctx.status = 404;
  });
  return { app, middlewares: [headerToken, queryToken], port };
}

function listen(
  handler: Parameters<typeof import('node:http').createServer>[1],
  port: number,
): Promise<Server> {
  return import('node:http').then(
    ({ createServer }) =>
      new Promise<Server>((resolve, reject) => {
        const server = createServer(handler);
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve(server));
      }),
  );
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Starts the issuer, the echo upstream and both gateways. */
export async function startDemo(ports: DemoPorts): Promise<Demo> {
  const issuer = await startIssuer(ports.issuer, AUDIENCE);
  const upstream = await startEchoUpstream(ports.upstream);
  const ex = startExpress(issuer, upstream.url, ports.express);
  const ko = startKoa(issuer, upstream.url, ports.koa);
  const expressServer = await listen(ex.app, ex.port);
  const koaServer = await listen(ko.app.callback(), ko.port);
  const token = await issuer.mint();
  const urls = { express: urlOf(expressServer), koa: urlOf(koaServer), upstream: upstream.url };
  return {
    issuer,
    urls,
    token,
    curls() {
      const lines: string[] = [];
      for (const base of [urls.express, urls.koa]) {
        lines.push(
          `curl -s ${base}${ROUTES.health}`,
          `curl -s ${base}${ROUTES.me} -H "Authorization: Bearer $TOKEN"`,
          `curl -s ${base}${ROUTES.api} -H "Authorization: Bearer $TOKEN"`,
          `curl -s "${base}${ROUTES.sse}?access_token=$TOKEN"`,
          `curl -si ${base}${ROUTES.me}`,
        );
      }
      return lines;
    },
    async close() {
      for (const middleware of [...ex.middlewares, ...ko.middlewares]) await middleware.close();
      for (const server of [expressServer, koaServer, upstream.server, issuer.server]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
