/**
 * One benchmark app, in its own process: `BENCH_ROW` names it, `BENCH_JWKS` carries the
 * public keys, `BENCH_HTPASSWD` the htpasswd text. Prints `listening <port>` once ready.
 * Every app also serves GET /stats (no auth): its event-loop delay since the last /stats.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import Koa from 'koa';
import * as forExpress from '../adapters/express/index.js';
import * as forKoa from '../adapters/koa/index.js';
import { APR1_LINE, AUDIENCE, apiKeyOf, ISSUER } from './constants.js';

const row = process.env.BENCH_ROW ?? 'express-bare';
const jwksJson = process.env.BENCH_JWKS ?? '{"keys":[]}';
const htpasswd = process.env.BENCH_HTPASSWD ?? `${APR1_LINE}\n`;
const keyCount = Number(/apikey-(\d+)/.exec(row)?.[1] ?? 10);

const options = {
  jwt: { issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwksJson } },
  basic: { htpasswd, publicPaths: ['/stats'] },
  apiKey: {
    keys: Array.from({ length: keyCount }, (_, i) => ({ name: `client-${i}`, key: apiKeyOf(i) })),
    location: { header: { name: 'x-api-key' } },
  },
};

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const stats = () => {
  const ms = (ns: number) => Math.round((ns / 1e6) * 10) / 10;
  const report = { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
  delay.reset();
  return report;
};

function expressApp() {
  const lib = forExpress;
  const app = express();
  app.get('/stats', (_req, res) => {
    res.json(stats());
  });
  if (row.includes('-jwt')) app.use(lib.jwtAuth(options.jwt));
  if (row.includes('-basic')) app.use(lib.basicAuth(options.basic));
  if (row.includes('-apikey')) app.use(lib.apiKeyAuth(options.apiKey));
  app.get('/', (req, res) => {
    res.json({ ok: true, subject: req.auth?.subject ?? null });
  });
  return app;
}

function koaApp() {
  const lib = forKoa;
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (ctx.path === '/stats') ctx.body = stats();
    else await next();
  });
  if (row.includes('-jwt')) app.use(lib.jwtAuth(options.jwt));
  if (row.includes('-basic')) app.use(lib.basicAuth(options.basic));
  if (row.includes('-apikey')) app.use(lib.apiKeyAuth(options.apiKey));
  app.use((ctx) => {
    ctx.body = { ok: true, subject: ctx.state.auth?.subject ?? null };
  });
  return app.callback();
}

const server = createServer(row.startsWith('koa') ? koaApp() : expressApp());
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
