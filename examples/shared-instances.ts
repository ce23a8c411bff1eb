/**
 * The demo's two gateway instances on one Redis (`REDIS_URL=redis://127.0.0.1:6379 npm start`):
 * instance A (Express) and instance B (Koa) each keep their own replica of the API keys
 * (`apiKeyAuth({ store: redisStore(...) })`, each on its own connection, as two processes would),
 * so a key revoked through A's admin route is refused by B.
 *   GET  /keys/me                    the API key check (x-api-key)
 *   POST /admin/keys/revoke?name=    revokes a key by name; a token of the "admins" group only
 * Each run uses a Redis key prefix of its own and deletes its keys on close, so the demo's
 * random API key never meets a record left by an earlier run.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import * as forExpress from '../adapters/express/index.js';
import * as forKoa from '../adapters/koa/index.js';
import type { ApiKeyRecord, Logger } from '../src/index.js';
import { redisStore } from '../src/store/redis.js';
import type { DemoIssuer } from './issuer.js';

export interface SharedInstances {
  urls: { a: string; b: string };
  /** The Redis key prefix of this run. */
  prefix: string;
  /** The curl lines that show a revocation through A refused by B. */
  curls(): string[];
  close(): Promise<void>;
}

export interface SharedInstancesOptions {
  redisUrl: string;
  /** A's and B's ports; 0 takes free ones. */
  ports: [number, number];
  issuer: DemoIssuer;
  audience: string;
  /** The demo's API keys: the seeds of both instances. */
  apiKeys: ApiKeyRecord[];
  logger: Logger | undefined;
}

export const SHARED_ROUTES = { key: '/keys/me', revoke: '/admin/keys/revoke' } as const;
const ADMINS_ONLY = { rules: ['"admins" in jwt.groups'] };

export async function startSharedInstances(options: SharedInstancesOptions): Promise<SharedInstances> {
  // node-redis is an optional peer: loaded only when the demo runs with REDIS_URL.
  const { createClient } = await import('redis');
  const prefix = `portcullis-demo:${randomBytes(6).toString('hex')}`;
  const connect = async () => {
    const client = createClient({ url: options.redisUrl });
    // Without a listener a lost connection would crash the demo; the store reports staleness.
    client.on('error', (error: unknown) =>
      options.logger?.warn(`redis: ${error instanceof Error ? error.message : 'connection error'}`),
    );
    await client.connect();
    return client;
  };
  const clients = [await connect(), await connect()];
  const stores = clients.map((client) => redisStore({ client, prefix, logger: options.logger }));
  const jwt = { issuer: options.issuer.url, audiences: [options.audience], logger: options.logger };
  const keyOptions = (index: number) => ({
    keys: options.apiKeys,
    store: stores[index] as (typeof stores)[number],
    location: { header: { name: 'x-api-key' } },
    logger: options.logger,
  });

  // A: Express.
  const keysA = forExpress.apiKeyAuth(keyOptions(0));
  const jwtA = forExpress.jwtAuth(jwt);
  const appA = express();
  appA.get(SHARED_ROUTES.key, keysA, (req, res) => {
    res.json({ instance: 'A (express)', auth: req.auth });
  });
  appA.post(SHARED_ROUTES.revoke, jwtA, forExpress.authorize(ADMINS_ONLY), (req, res) => {
    const name = typeof req.query.name === 'string' ? req.query.name : '';
    keysA.revoke(name).then(
      (revoked) => {
        res.status(revoked ? 200 : 404).json({ instance: 'A (express)', name, revoked });
      },
      () => {
        res.status(503).json({ error: 'temporarily_unavailable' });
      },
    );
  });

  // B: Koa, the same routes.
  const keysB = forKoa.apiKeyAuth(keyOptions(1));
  const jwtB = forKoa.jwtAuth(jwt);
  const adminB = forKoa.authorize(ADMINS_ONLY);
  const appB = new Koa();
  appB.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === SHARED_ROUTES.key) {
      await keysB(ctx, async () => {
        ctx.body = { instance: 'B (koa)', auth: ctx.state.auth };
      });
    } else if (ctx.method === 'POST' && ctx.path === SHARED_ROUTES.revoke) {
      await jwtB(ctx, () =>
        adminB(ctx, async () => {
          const name = typeof ctx.query.name === 'string' ? ctx.query.name : '';
          try {
            const revoked = await keysB.revoke(name);
            ctx.status = revoked ? 200 : 404;
            ctx.body = { instance: 'B (koa)', name, revoked };
          } catch {
            ctx.status = 503;
            ctx.body = { error: 'temporarily_unavailable' };
          }
        }),
      );
    } else ctx.status = 404;
  });

  // Both replicas hold the keys before the demo prints its lines.
  await Promise.all(stores.map((store) => store.collection('apikeys').ready()));
  const servers = [
    await listen(appA as RequestListener, options.ports[0]),
    await listen(appB.callback(), options.ports[1]),
  ];
  const [a, b] = servers.map(urlOf) as [string, string];
  const name = options.apiKeys[0]?.name ?? 'demo-client';
  return {
    urls: { a, b },
    prefix,
    curls: () => [
      `# instance B accepts the key, A revokes it (an admin token), then B refuses it:`,
      `curl -s ${b}${SHARED_ROUTES.key} -H "x-api-key: $API_KEY"`,
      `curl -s -X POST "${a}${SHARED_ROUTES.revoke}?name=${name}" -H "Authorization: Bearer $ADMIN_TOKEN"`,
      `curl -s ${b}${SHARED_ROUTES.key} -H "x-api-key: $API_KEY"`,
    ],
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      for (const middleware of [keysA, jwtA, keysB, jwtB]) await middleware.close();
      for (const store of stores) await store.close();
      // This run's keys only (its own prefix), then the connections.
      const [client] = clients;
      if (client !== undefined) {
        const doomed: string[] = [];
        for await (const batch of client.scanIterator({ MATCH: `${prefix}:*`, COUNT: 100 }))
          doomed.push(...(Array.isArray(batch) ? batch : [batch]));
        if (doomed.length > 0) await client.del(doomed);
      }
      for (const each of clients) await each.quit();
    },
  };
}

function listen(handler: RequestListener, port: number): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer(handler);
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
