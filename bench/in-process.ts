/**
 * `npm run bench:in-process`: what the middlewares cost without HTTP around them, the steadier
 * measure on a noisy host. Uses the built package, as users run it.
 *   1. Each Koa middleware called 100,000 times on a real IncomingMessage: microseconds per call.
 *   2. Whole Express 5 apps called 50,000 times on real IncomingMessage/ServerResponse objects,
 *      as Express runs them, and with the request and response prototypes preset so Express's
 *      per-request Object.setPrototypeOf changes nothing (see BENCHMARKS.md: that swap gives
 *      every request a hidden class of its own, and makes every touch of `req` expensive).
 *   3. 4,000 distinct RS256 tokens, 50 at a time: CPU per token (all threads) for jwtAuth's
 *      verifier with its cache off, and for jose's `jwtVerify`.
 * Pin it for steadier figures: `taskset -c 1 npm run bench:in-process`.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import express from 'express';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
// The verifier alone is no public API: measured from its source module (the same code).
import { jwtAuthenticator } from '../src/jwt/authenticator.js';

const built = '../dist';
const koa: typeof import('../adapters/koa/index.js') = await import(`${built}/koa.js`);
const forExpress: typeof import('../adapters/express/index.js') = await import(`${built}/express.js`);

const ISSUER = 'https://issuer.bench';
const AUDIENCE = 'bench';
const API_KEY = 'bench-key-00000009';

const rsa = await generateKeyPair('RS256');
const jwks = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256' }] };
const mint = (sub: string) =>
  new SignJWT({ sub, scope: 'read' })
    .setProtectedHeader({ alg: 'RS256', kid: 'rsa' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime('2h')
    .sign(rsa.privateKey);
const token = await mint('user');

type KoaMiddleware = (ctx: unknown, next: () => Promise<void>) => Promise<void>;
const middlewares: Record<string, KoaMiddleware> = {
  'no-op async middleware (the floor)': async (_ctx, next) => {
    await next();
  },
  'apiKeyAuth, 10 keys': koa.apiKeyAuth({
    keys: Array.from({ length: 10 }, (_, i) => ({ name: `client-${i}`, key: `bench-key-0000000${i}` })),
    location: { header: { name: 'x-api-key' } },
  }) as unknown as KoaMiddleware,
  'jwtAuth RS256, cached token': koa.jwtAuth({
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks: { inline: JSON.stringify(jwks) },
  }) as unknown as KoaMiddleware,
};

/** A Koa-shaped context around a real IncomingMessage carrying both credentials. */
function context() {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/';
  req.rawHeaders = ['Host', '127.0.0.1', 'x-api-key', API_KEY, 'Authorization', `Bearer ${token}`];
  void req.headers;
  return { req, url: '/', originalUrl: '/', protocol: 'http', state: {} as { auth?: unknown }, set() {} };
}

const next = async () => {};
const CALLS = 100_000;
console.log('| middleware (Koa adapter) | us per call |\n|---|---|');
for (const [name, middleware] of Object.entries(middlewares)) {
  const rounds: number[] = [];
  for (let round = 0; round < 4; round++) {
    let spent = 0n;
    for (let i = 0; i < CALLS; i++) {
      const ctx = context();
      const start = process.hrtime.bigint();
      await middleware(ctx, next);
      spent += process.hrtime.bigint() - start;
      if (!name.startsWith('no-op') && ctx.state.auth === undefined) throw new Error(`${name}: refused`);
    }
    rounds.push(Number(spent) / CALLS / 1000);
  }
  // The first two rounds warm the JIT up.
  console.log(
    `| ${name} | ${rounds
      .slice(2)
      .map((us) => us.toFixed(2))
      .join(', ')} |`,
  );
}

type ExpressSetup = (app: express.Express) => void;
const expressApps: Record<string, ExpressSetup> = {
  'bare Express 5': () => {},
  'apiKeyAuth, 10 keys': (app) => {
    app.use(
      forExpress.apiKeyAuth({
        keys: Array.from({ length: 10 }, (_, i) => ({ name: `client-${i}`, key: `bench-key-0000000${i}` })),
        location: { header: { name: 'x-api-key' } },
      }),
    );
  },
  'jwtAuth RS256, cached token': (app) => {
    app.use(
      forExpress.jwtAuth({ issuer: ISSUER, audiences: [AUDIENCE], jwks: { inline: JSON.stringify(jwks) } }),
    );
  },
};

/** Microseconds per request through a whole Express app, optionally with its prototypes preset. */
async function expressCost(setup: ExpressSetup, preset: boolean): Promise<number[]> {
  const app = express();
  setup(app);
  app.get('/', (req, res) => {
    res.json({ ok: true, subject: req.auth?.subject ?? null });
  });
  // Constructors whose instances already have Express's prototypes: what a server created with
  // `createServer({ IncomingMessage, ServerResponse }, app)` would hand Express.
  function PresetRequest(this: IncomingMessage, socket: Socket) {
    IncomingMessage.call(this, socket);
  }
  PresetRequest.prototype = app.request;
  function PresetResponse(this: ServerResponse, req: IncomingMessage) {
    ServerResponse.call(this, req);
  }
  PresetResponse.prototype = app.response;
  const Request = (preset ? PresetRequest : IncomingMessage) as unknown as typeof IncomingMessage;
  const Response = (preset ? PresetResponse : ServerResponse) as unknown as typeof ServerResponse;
  const socket = new Socket();
  const handle = app as unknown as (req: IncomingMessage, res: ServerResponse) => void;
  const request = () => {
    const req = new Request(socket);
    req.method = 'GET';
    req.url = '/';
    req.headers = { host: '127.0.0.1', 'x-api-key': API_KEY, authorization: `Bearer ${token}` };
    req.rawHeaders = ['Host', '127.0.0.1', 'x-api-key', API_KEY, 'Authorization', `Bearer ${token}`];
    return [req, new Response(req)] as const;
  };
  // The first token is verified asynchronously; every later request is a cache hit.
  handle(...request());
  await new Promise((resolve) => setTimeout(resolve, 50));
  const rounds: number[] = [];
  for (let round = 0; round < 4; round++) {
    let spent = 0n;
    for (let i = 0; i < 50_000; i++) {
      const [req, res] = request();
      const start = process.hrtime.bigint();
      handle(req, res);
      spent += process.hrtime.bigint() - start;
      if (res.statusCode !== 200 || !res.writableEnded) throw new Error('the Express app did not answer 200');
    }
    rounds.push(Number(spent) / 50_000 / 1000);
  }
  return rounds.slice(2);
}

console.log(
  '\n| Express 5 app, one request | us, as Express runs it | us, prototypes preset |\n|---|---|---|',
);
for (const [name, setup] of Object.entries(expressApps)) {
  const format = (rounds: number[]) => rounds.map((us) => us.toFixed(1)).join(', ');
  console.log(
    `| ${name} | ${format(await expressCost(setup, false))} | ${format(await expressCost(setup, true))} |`,
  );
}

const tokens: string[] = [];
for (let i = 0; i < 4000; i++) tokens.push(await mint(`user-${i}`));
const ours = jwtAuthenticator({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: JSON.stringify(jwks) },
  cache: false,
});
const host = { message: { headers: {}, rawHeaders: [] }, path: '/', protocol: 'http', editUrl() {} };
const keySet = createLocalJWKSet(jwks);
const verifiers: Record<string, (token: string) => Promise<unknown>> = {
  'jwtAuth verifier, cache off': async (t) => {
    const verdict = await ours.authenticate(t, host as unknown as Parameters<typeof ours.authenticate>[1]);
    if (!verdict.ok) throw new Error('jwtAuth refused a valid token');
  },
  'jose 6 jwtVerify': (t) => jwtVerify(t, keySet, { issuer: ISSUER, audience: AUDIENCE }),
};
console.log('\n| 4,000 distinct RS256 tokens, 50 at a time | CPU us per token |\n|---|---|');
for (const [name, verify] of Object.entries(verifiers)) {
  const rounds: number[] = [];
  for (let round = 0; round < 3; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < tokens.length; i += 50) await Promise.all(tokens.slice(i, i + 50).map(verify));
    const used = process.cpuUsage(before);
    rounds.push((used.user + used.system) / tokens.length);
  }
  console.log(
    `| ${name} | ${rounds
      .slice(1)
      .map((us) => us.toFixed(1))
      .join(', ')} |`,
  );
}
await ours.close();
process.exit(0);
