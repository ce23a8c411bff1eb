/**
 * One gateway replica of `npm run bench:propagation` (bench/propagation.ts forks four of them):
 * an Express or a Koa app with `apiKeyAuth({ store: redisStore(...) })` on a free loopback port.
 *   GET  /                       the key check (x-api-key), 200 with the client's name
 *   POST /admin/add?name=&key=   apiKeyAuth's add(), answered once the store acknowledged it
 *   POST /admin/revoke?name=     apiKeyAuth's revoke(), the same
 * The admin routes want the x-admin header the parent passes in BENCH_ADMIN (a bench-only
 * guard: a real deployment puts its own authentication in front of them).
 * Usage: node --import tsx bench/propagation-gateway.ts <express|koa> <redis url>
 * It reports `{ port }` over the IPC channel once listening, and exits when that channel closes.
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { createClient } from 'redis';
import * as forExpress from '../adapters/express/index.js';
import * as forKoa from '../adapters/koa/index.js';
import { redisStore } from '../src/store/redis.js';

const [framework, url] = process.argv.slice(2);
if ((framework !== 'express' && framework !== 'koa') || url === undefined)
  throw new Error('usage: propagation-gateway.ts <express|koa> <redis url>');
const ADMIN = process.env.BENCH_ADMIN ?? '';
if (ADMIN.length < 16) throw new Error('BENCH_ADMIN must be set (16 characters or more)');

const client = createClient({ url });
await client.connect();
const store = redisStore({ client });
const options = { store, location: { header: { name: 'x-api-key' } } } as const;

type Admin = (query: URLSearchParams) => Promise<unknown>;
let handler: RequestListener;
let admin: Record<string, Admin>;
let close: () => Promise<void>;

if (framework === 'express') {
  const keys = forExpress.apiKeyAuth(options);
  admin = {
    '/admin/add': (q) => keys.add({ name: q.get('name') ?? '', key: q.get('key') ?? '' }),
    '/admin/revoke': (q) => keys.revoke(q.get('name') ?? ''),
  };
  const app = express();
  app.post(/^\/admin\//, (req, res) => {
    void runAdmin(req.headers['x-admin'], req.path, new URL(req.url, 'http://x').searchParams).then(
      ([status, body]) => {
        res.status(status).json(body);
      },
    );
  });
  app.get('/', keys, (req, res) => {
    res.json({ subject: req.auth?.subject ?? null });
  });
  handler = app as RequestListener;
  close = () => keys.close();
} else {
  const keys = forKoa.apiKeyAuth(options);
  admin = {
    '/admin/add': (q) => keys.add({ name: q.get('name') ?? '', key: q.get('key') ?? '' }),
    '/admin/revoke': (q) => keys.revoke(q.get('name') ?? ''),
  };
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path.startsWith('/admin/')) {
      const [status, body] = await runAdmin(
        ctx.get('x-admin'),
        ctx.path,
        new URLSearchParams(ctx.querystring),
      );
      ctx.status = status;
      ctx.body = body;
      return;
    }
    return next();
  });
  app.use(keys);
  app.use(async (ctx) => {
    ctx.body = { subject: ctx.state.auth?.subject ?? null };
  });
  handler = app.callback();
  close = () => keys.close();
}

async function runAdmin(
  token: string | string[] | undefined,
  path: string,
  query: URLSearchParams,
): Promise<[number, unknown]> {
  const action = admin[path];
  if (token !== ADMIN) return [403, { error: 'forbidden' }];
  if (action === undefined) return [404, { error: 'not_found' }];
  try {
    return [200, { ok: true, result: (await action(query)) ?? null }];
  } catch (error) {
    // The bench counts these; the message names no key (the record schema's errors never do).
    return [500, { error: error instanceof Error ? error.message : 'failed' }];
  }
}

const server = createServer({ keepAliveTimeout: 60_000 }, handler);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
process.send?.({ port: (server.address() as AddressInfo).port });

process.on('disconnect', () => {
  server.closeAllConnections();
  server.close();
  void close()
    .then(() => store.close())
    .then(() => client.quit())
    .finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
