/**
 * One benchmark app, in its own process: `BENCH_ROW` names it, `BENCH_JWKS` carries the
 * public keys. Prints `listening <port>` once ready.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import * as forExpress from '../adapters/express/index.js';
import * as forKoa from '../adapters/koa/index.js';
import { AUDIENCE, ISSUER } from './constants.js';

const row = process.env.BENCH_ROW ?? 'express-bare';
const jwksJson = process.env.BENCH_JWKS ?? '{"keys":[]}';
const jwtOptions = { issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: jwksJson } };

function expressApp() {
  const app = express();
  if (row === 'express-jwt') app.use(forExpress.jwtAuth(jwtOptions));
  app.get('/', (req, res) => {
    res.json({ ok: true, subject: req.auth?.subject ?? null });
  });
  return app;
}

function koaApp() {
  const app = new Koa();
  if (row === 'koa-jwt') app.use(forKoa.jwtAuth(jwtOptions));
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
