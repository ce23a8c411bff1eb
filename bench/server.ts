/**
 * One benchmark app, in its own process: `BENCH_ROW` names it, `BENCH_JWKS` carries the
 * public keys, `BENCH_HTPASSWD` the htpasswd text. Prints `listening <port>` once ready.
 * Every app also serves GET /stats (no auth): its event-loop delay since the last /stats.
 */
import { Agent, createServer, IncomingMessage, type RequestListener, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import Koa from 'koa';

// The built package, as users run it (`npm run bench` builds first); BENCH_SOURCE=1 measures
// the TypeScript sources through tsx instead, whose transpiled output differs (name helpers).
const build = process.env.BENCH_SOURCE === '1' ? undefined : '../dist';
const forExpress: typeof import('../adapters/express/index.js') = await import(
  build === undefined ? '../adapters/express/index.js' : `${build}/express.js`
);
const forKoa: typeof import('../adapters/koa/index.js') = await import(
  build === undefined ? '../adapters/koa/index.js' : `${build}/koa.js`
);

import { type AnchorKeys, expressAnchor, koaAnchor } from './anchors.js';
import { APR1_LINE, AUDIENCE, apiKeyOf, ISSUER } from './constants.js';

const row = process.env.BENCH_ROW ?? 'express-bare';
const anchor = /-anchor-(.+)$/.exec(row)?.[1];
const jwksJson = process.env.BENCH_JWKS ?? '{"keys":[]}';
const htpasswd = row.includes('-bcrypt')
  ? (process.env.BENCH_HTPASSWD_BCRYPT ?? '')
  : (process.env.BENCH_HTPASSWD ?? `${APR1_LINE}\n`);
const upstream = process.env.BENCH_UPSTREAM ?? 'http://127.0.0.1:9';
const keyCount = Number(/apikey-(\d+)/.exec(row)?.[1] ?? 10);

const options = {
  jwt: {
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks: { inline: jwksJson },
    ...(row.includes('-nocache') ? { cache: false as const } : {}),
  },
  basic: { htpasswd, publicPaths: ['/stats'] },
  apiKey: {
    keys: Array.from({ length: keyCount }, (_, i) => ({ name: `client-${i}`, key: apiKeyOf(i) })),
    location: { header: { name: 'x-api-key' } },
  },
  backendKey: { key: { value: 'sk-bench-upstream-key' }, upstream },
  backendSigv4: {
    aws: {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'bench-secret',
      region: 'us-east-1',
      service: 'bedrock',
    },
    upstream,
  },
  authorize: {
    rules: [
      'request.method in ["GET", "HEAD"]',
      { require: 'has(jwt.sub)' },
      { deny: 'request.path.startsWith("/admin") && !jwt.groups.contains("admins")' },
    ],
  },
};

// Only the flood app samples its event-loop delay: a 1 ms sampling timer in every app would
// wake each of them a thousand times a second, on the core the measured app runs on.
const delay = monitorEventLoopDelay({ resolution: 1 });
if (process.env.BENCH_DELAY === '1') delay.enable();
let served = 0;
const stats = () => {
  const ms = (ns: number) => Math.round((ns / 1e6) * 10) / 10;
  const report = {
    p50: ms(delay.percentile(50)),
    p99: ms(delay.percentile(99)),
    max: ms(delay.max),
    rssMb: Math.round((process.memoryUsage().rss / 1024 / 1024) * 10) / 10,
    // CPU time this process has used, and requests it has served: the harness divides the
    // differences over a slice, a cost per request that the host's noise barely moves.
    cpuUs: (({ user, system }) => user + system)(process.cpuUsage()),
    served,
  };
  delay.reset();
  return report;
};

function expressApp(keys: AnchorKeys) {
  const lib = forExpress;
  const app = express();
  app.get('/stats', (_req, res) => {
    res.json(stats());
  });
  app.get('/jwks.json', (_req, res) => {
    res.type('application/json').send(jwksJson);
  });
  if (row.includes('-forward')) {
    // A gateway: the same proxy on both sides of the ratio, so the ratio is backendAuth's cost.
    if (row.endsWith('-key')) app.use(lib.backendAuth(options.backendKey));
    if (row.endsWith('-sigv4')) app.use(lib.backendAuth(options.backendSigv4));
    app.use(
      createProxyMiddleware({ target: upstream, agent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
    );
    return app;
  }
  if (anchor !== undefined) expressAnchor(anchor, app, keys);
  if (anchor === undefined && row.includes('-jwt')) app.use(lib.jwtAuth(options.jwt));
  if (row.includes('-basic')) app.use(lib.basicAuth(options.basic));
  if (row.includes('-apikey')) app.use(lib.apiKeyAuth(options.apiKey));
  if (row.includes('-authz')) app.use(lib.authorize(options.authorize));
  app.get('/', (req, res) => {
    res.json({ ok: true, subject: req.auth?.subject ?? null });
  });
  return app;
}

function koaApp(keys: AnchorKeys) {
  const lib = forKoa;
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (ctx.path === '/stats') ctx.body = stats();
    else await next();
  });
  if (anchor !== undefined) koaAnchor(anchor, app, keys);
  if (anchor === undefined && row.includes('-jwt')) app.use(lib.jwtAuth(options.jwt));
  if (row.includes('-basic')) app.use(lib.basicAuth(options.basic));
  if (row.includes('-apikey')) app.use(lib.apiKeyAuth(options.apiKey));
  app.use((ctx) => {
    ctx.body = { ok: true, subject: ctx.state.auth?.subject ?? null };
  });
  return app.callback();
}

// The app is built once the port is known: some anchors fetch their JWKS from this server.
let handler: RequestListener = (_req, res) => res.end();
// BENCH_EXPRESS_PRESET=1 (a diagnostic, not the published table): Express apps get requests and
// responses whose prototypes are already Express's, so Express's per-request
// Object.setPrototypeOf changes nothing. That swap gives every request a hidden class of its
// own, which makes each property access on `req` an uncached lookup (see BENCHMARKS.md).
function PresetRequest(this: IncomingMessage, socket: never) {
  IncomingMessage.call(this, socket);
}
function PresetResponse(this: ServerResponse, req: never) {
  ServerResponse.call(this, req);
}
const preset = process.env.BENCH_EXPRESS_PRESET === '1' && row.startsWith('express');
const server = preset
  ? createServer(
      { IncomingMessage: PresetRequest as never, ServerResponse: PresetResponse as never },
      (req, res) => handler(req, res),
    )
  : createServer((req, res) => handler(req, res));
server.keepAliveTimeout = 60_000;
server.on('request', () => {
  served += 1;
});
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  const keys: AnchorKeys = {
    publicPem: process.env.BENCH_PUBLIC_PEM ?? '',
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    htpasswdPath: process.env.BENCH_HTPASSWD_PATH ?? '',
  };
  if (row === 'upstream') {
    // The local upstream of the backendAuth rows: drains the body, answers a small JSON.
    handler = (req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
    };
  } else if (row.startsWith('koa')) handler = koaApp(keys);
  else {
    const app = expressApp(keys);
    PresetRequest.prototype = app.request;
    PresetResponse.prototype = app.response;
    handler = app as unknown as RequestListener;
  }
  console.log(`listening ${port}`);
});
