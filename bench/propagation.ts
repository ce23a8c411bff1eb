/**
 * `npm run bench:propagation`: shared state through Redis (issue 13), measured on loopback.
 *   1. Propagation. One redis-server, four gateway PROCESSES (bench/propagation-gateway.ts:
 *      Express, Koa, Express, Koa), each with apiKeyAuth({ store: redisStore(...) }). 200 times:
 *      revoke one key through one replica's admin route (round robin), while every replica is
 *      polled back to back with that key; the figure is the time from sending the revocation to
 *      the first refusal seen on the LAST replica (an upper bound: it includes the revoke call
 *      and the polling request's own round trip). p50 / p99 / max. Then 50 more with the pub/sub
 *      hint lost (the same write, no PUBLISH): what a replica's poll alone achieves.
 *   2. The per-request cost of a Redis-backed key check against the in-memory one, in process
 *      (Koa middleware on a real IncomingMessage, as bench/in-process.ts; alternating rounds).
 *   3. Under load: autocannon on replica 0 while replica 1 revokes and adds keys. Counts requests
 *      accepted with a key whose revocation was acknowledged more than a bound ago, and 5xx.
 * Env: BENCH_REVOCATIONS (200), BENCH_HINTLESS (50), BENCH_LOAD_SECONDS (10), BENCH_POLL_GAP_MS (1). Runs from source through tsx (no build).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, IncomingMessage, request } from 'node:http';
import { createServer, Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createClient } from 'redis';
import * as forKoa from '../adapters/koa/index.js';
import { redisStore } from '../src/store/redis.js';

const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS ?? 200);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
// Between two polls of one replica: 1 ms keeps the figures' resolution near a millisecond
// without four back-to-back pollers taking the CPUs the gateways and Redis need (2 on the
// bench host), which would measure the pollers instead.
const POLL_GAP_MS = Number(process.env.BENCH_POLL_GAP_MS ?? 1);
const HINTLESS = Number(process.env.BENCH_HINTLESS ?? 50);
const ADMIN = randomBytes(16).toString('hex');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const keyOf = (i: number) => `bench_prop_${String(i).padStart(6, '0')}_${'k'.repeat(16)}`;
const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A redis-server of our own on a free loopback port, no persistence. */
async function startRedis(): Promise<string> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  children.push(child);
  const url = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    const probe = createClient({ url });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      await probe.quit();
      return url;
    } catch {
      await sleep(50);
    }
  }
  throw new Error('redis-server did not answer PING (is it installed?)');
}

/** Forks one gateway replica and resolves with its port. */
function startGateway(framework: 'express' | 'koa', url: string): Promise<number> {
  const child = fork(fileURLToPath(new URL('./propagation-gateway.ts', import.meta.url)), [framework, url], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_ADMIN: ADMIN },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`a gateway exited (${code}) before listening`)));
  });
}

const agents = new Map<number, Agent>();
/** One request on a keep-alive connection of `port`'s own agent: the status and when it came. */
function call(port: number, method: string, path: string, headers: Record<string, string>): Promise<number> {
  let agent = agents.get(port);
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets: 4 });
    agents.set(port, agent);
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
/**
 * A revocation written as redisStore writes it (src/store/redis.ts: HSET and XADD in one
 * MULTI, under `portcullis:apikeys`, the field the key's SHA-256), but with no PUBLISH after it:
 * a hint lost, which only the replicas' polls catch.
 */
async function revokeWithoutHint(client: ReturnType<typeof createClient>, key: string): Promise<void> {
  const field = createHash('sha256').update(key).digest('hex');
  const stored = await client.hGet('portcullis:apikeys:data', field);
  if (stored === null || stored === undefined) throw new Error('no stored record for a bench key');
  const value = JSON.stringify({ ...JSON.parse(stored), revoked: true });
  await client
    .multi()
    .hSet('portcullis:apikeys:data', field, value)
    .xAdd('portcullis:apikeys:log', '*', { op: 'put', field, value })
    .exec();
}

const check = (port: number, key: string) => call(port, 'GET', '/', { 'x-api-key': key });
async function adminCall(port: number, action: 'add' | 'revoke', query: Record<string, string>) {
  const status = await call(port, 'POST', `/admin/${action}?${new URLSearchParams(query)}`, {
    'x-admin': ADMIN,
  });
  if (status !== 200) throw new Error(`admin ${action} answered ${status}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
};
const ms = (value: number) => value.toFixed(1);

try {
  console.log(
    `# ${new Date().toISOString()}: ${cpus().length} x ${cpus()[0]?.model}, Node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const url = await startRedis();
  const frameworks = ['express', 'koa', 'express', 'koa'] as const;
  const ports = await Promise.all(frameworks.map((framework) => startGateway(framework, url)));
  const name = (r: number) => `${frameworks[r]}#${r}`;

  // The keys: one per revocation, spread over the replicas' admin routes.
  const total = REVOCATIONS + HINTLESS;
  for (let i = 0; i < total; i++) {
    await adminCall(ports[i % ports.length] as number, 'add', { name: `client-${i}`, key: keyOf(i) });
  }
  // Every replica has every key before the first revocation.
  for (const port of ports) {
    for (let attempt = 0; (await check(port, keyOf(total - 1))) !== 200; attempt++) {
      if (attempt > 1000) throw new Error('a replica never saw the keys');
      await sleep(5);
    }
  }

  // 1. Propagation: through a replica's admin route (the write path every replica uses), and
  // then with the pub/sub hint lost, so only the replicas' polls (every 250 ms) find the change.
  const hinted = await propagation(0, REVOCATIONS, (i) =>
    adminCall(ports[i % ports.length] as number, 'revoke', { name: `client-${i}` }),
  );
  const direct = createClient({ url });
  await direct.connect();
  const hintless = await propagation(REVOCATIONS, HINTLESS, (i) => revokeWithoutHint(direct, keyOf(i)));
  await direct.quit();
  console.log(
    `\n## Propagation: 4 gateway processes (Express, Koa, Express, Koa), one redis-server, ${POLL_GAP_MS} ms between polls\n`,
  );
  console.log('| revocations | measured from | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|');
  const row = (label: string, what: string, values: number[]) => {
    const { p50, p99, max } = summary(values);
    console.log(`| ${label} | ${what} | ${ms(p50)} | ${ms(p99)} | ${ms(max)} |`);
  };
  row(
    `${REVOCATIONS} through one replica's revoke() (round robin)`,
    'sending the revoke, until all 4 refuse',
    hinted.fromSend,
  );
  row('', 'the revoke call alone (sent until answered: the write acknowledged)', hinted.call);
  row('', 'the acknowledgement, until all 4 refuse', hinted.fromAck);
  row(
    `${HINTLESS} with the pub/sub hint lost (the same MULTI, no PUBLISH)`,
    'the write acknowledged, until all 4 refuse',
    hintless.fromAck,
  );
  console.log(
    `\nLast replica to refuse (through revoke()): ${[...hinted.slowest].map(([replica, count]) => `${replica} ${count}`).join(', ')}. Goal p99 <= 100 ms: ${summary(hinted.fromSend).p99 <= 100 ? 'met' : 'NOT met'}.`,
  );

  /** Revokes keys first..first+count-1 with `revoke`, measuring until every replica refuses each. */
  async function propagation(first: number, count: number, revoke: (i: number) => Promise<void>) {
    const fromSend: number[] = [];
    const fromAck: number[] = [];
    const call: number[] = [];
    const slowest = new Map<string, number>();
    for (let i = first; i < first + count; i++) {
      const key = keyOf(i);
      for (const port of ports)
        if ((await check(port, key)) !== 200) throw new Error(`key ${i} refused before`);
      let stop = false;
      const refusedAt: number[] = [];
      const start = performance.now();
      // Each replica polled on its own connection until it refuses the key.
      const pollers = ports.map(async (port, r) => {
        while (!stop) {
          const status = await check(port, key);
          if (status === 401) {
            refusedAt[r] = performance.now();
            return;
          }
          if (status !== 200) throw new Error(`${name(r)} answered ${status}`);
          await sleep(POLL_GAP_MS);
        }
      });
      await revoke(i);
      const acked = performance.now();
      const timeout = setTimeout(() => {
        stop = true;
      }, 5000);
      await Promise.all(pollers);
      clearTimeout(timeout);
      if (ports.some((_, r) => refusedAt[r] === undefined))
        throw new Error(`revocation ${i}: a replica still accepted the key after 5 s`);
      const last = Math.max(...refusedAt);
      fromSend.push(last - start);
      fromAck.push(Math.max(0, last - acked));
      call.push(acked - start);
      const laggard = name(refusedAt.indexOf(last));
      slowest.set(laggard, (slowest.get(laggard) ?? 0) + 1);
      // A random gap over a whole poll interval (250 ms), so revocations fall at every phase of
      // the replicas' poll timers (each one above ended just after a poll, without a hint).
      await sleep(Math.random() * 250);
    }
    return { fromSend, fromAck, call, slowest };
  }

  // 3. Under load: autocannon on replica 0 (Express) while replica 1 (Koa) revokes and adds.
  const base = total;
  const stable = Array.from({ length: 20 }, (_, i) => keyOf(base + i));
  const doomed = Array.from({ length: 40 }, (_, i) => keyOf(base + 20 + i));
  const newcomers = Array.from({ length: 40 }, (_, i) => keyOf(base + 60 + i));
  for (const [i, key] of [...stable, ...doomed].entries())
    await adminCall(ports[1] as number, 'add', { name: `load-${i}`, key });
  await sleep(300);
  const revokedAt = new Map<string, number>();
  const ackedAt = new Map<string, number>();
  let latestAfterAck = Number.NEGATIVE_INFINITY;
  const BOUNDS = [0, 100, 250, 10_000];
  const acceptedAfter = new Map<number, number>(BOUNDS.map((bound) => [bound, 0]));
  let latestAcceptance = 0;
  const statuses = new Map<number, number>();
  const rotation = [...stable, ...doomed, ...newcomers];
  const requests = rotation.map((key) => ({
    method: 'GET' as const,
    path: '/',
    headers: { 'x-api-key': key },
    onResponse: (status: number) => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const revoked = revokedAt.get(key);
      if (status === 200 && revoked !== undefined) {
        const late = performance.now() - revoked;
        latestAcceptance = Math.max(latestAcceptance, late);
        const acked = ackedAt.get(key);
        if (acked !== undefined) latestAfterAck = Math.max(latestAfterAck, performance.now() - acked);
        for (const bound of BOUNDS)
          if (late > bound) acceptedAfter.set(bound, (acceptedAfter.get(bound) ?? 0) + 1);
      }
    },
  }));
  let writing = true;
  let writes = 0;
  const writer = (async () => {
    for (let i = 0; writing && i < doomed.length; i++) {
      await sleep((LOAD_SECONDS * 1000) / (doomed.length + 5));
      const started = performance.now();
      // The revocation counts from when it was SENT (conservative: it may land later).
      revokedAt.set(doomed[i] as string, started);
      await adminCall(ports[1] as number, 'revoke', { name: `load-${20 + i}` });
      ackedAt.set(doomed[i] as string, performance.now());
      await adminCall(ports[1] as number, 'add', { name: `new-${i}`, key: newcomers[i] as string });
      writes += 2;
    }
  })();
  const result = await autocannon({
    url: `http://127.0.0.1:${ports[0]}`,
    connections: 20,
    duration: LOAD_SECONDS,
    requests,
  });
  writing = false;
  await writer;
  // The revocation clock above starts at sending; the acceptance bound is counted from it.
  console.log(
    `\n## Under load: autocannon, 20 connections, ${LOAD_SECONDS} s on ${name(0)}, while ${name(1)} made ${writes} writes (revoke + add)\n`,
  );
  console.log(
    `${result.requests.total} requests (${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms); statuses: ${[
      ...statuses,
    ]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status} x ${count}`)
      .join(', ')}; errors ${result.errors}, timeouts ${result.timeouts}.`,
  );
  console.log(
    `\n| accepted with a key revoked more than ... ago (from sending the revoke) | requests |\n|---|---|\n${BOUNDS.map(
      (bound) => `| ${bound} ms | ${acceptedAfter.get(bound)} |`,
    ).join('\n')}`,
  );
  const fivexx = [...statuses].filter(([status]) => status >= 500).reduce((sum, [, count]) => sum + count, 0);
  console.log(
    `\nLatest acceptance after a revocation was sent: ${ms(latestAcceptance)} ms; after it was acknowledged: ${
      latestAfterAck === Number.NEGATIVE_INFINITY ? 'none' : `${ms(latestAfterAck)} ms`
    }. 5xx: ${fivexx}.`,
  );
  for (const agent of agents.values()) agent.destroy();

  // 2. The per-request cost, in process.
  const client = createClient({ url });
  await client.connect();
  const shared = redisStore({ client, prefix: 'bench-cost' });
  const tenKeys = Array.from({ length: 10 }, (_, i) => ({ name: `cost-${i}`, key: keyOf(900_000 + i) }));
  const location = { header: { name: 'x-api-key' } } as const;
  const viaRedis = forKoa.apiKeyAuth({ store: shared, location });
  for (const record of tenKeys) await viaRedis.add(record);
  const variants = {
    'apiKeyAuth, 10 keys, in memory (the default store)': forKoa.apiKeyAuth({ keys: tenKeys, location }),
    'apiKeyAuth, 10 keys, redisStore': viaRedis,
  };
  type KoaMiddleware = (ctx: unknown, next: () => Promise<void>) => Promise<void>;
  const presented = keyOf(900_009);
  const context = () => {
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = '/';
    req.rawHeaders = ['Host', '127.0.0.1', 'x-api-key', presented];
    void req.headers;
    return { req, url: '/', originalUrl: '/', protocol: 'http', state: {} as { auth?: unknown }, set() {} };
  };
  const next = async () => {};
  const CALLS = 50_000;
  const ROUNDS = 10;
  const rounds = new Map<string, number[]>(Object.keys(variants).map((label) => [label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, middleware] of Object.entries(variants)) {
      let spent = 0n;
      for (let i = 0; i < CALLS; i++) {
        // Give the store's timers and Redis replies their turn, as a server's event loop does.
        if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
        const ctx = context();
        const start = process.hrtime.bigint();
        await (middleware as unknown as KoaMiddleware)(ctx, next);
        spent += process.hrtime.bigint() - start;
        if (ctx.state.auth === undefined) throw new Error(`${label}: refused`);
      }
      rounds.get(label)?.push(Number(spent) / CALLS / 1000);
    }
  }
  console.log(
    `\n## Per request, in process (Koa middleware, ${CALLS} calls a round, ${ROUNDS} rounds alternating; the first 2 warm up)\n`,
  );
  console.log('| middleware | us per call, median | each round |\n|---|---|---|');
  for (const [label, values] of rounds) {
    const measured = values.slice(2);
    console.log(
      `| ${label} | ${summary(measured).p50.toFixed(2)} | ${measured.map((us) => us.toFixed(2)).join(', ')} |`,
    );
  }
  // What keeping the copy in sync costs while idle: the poll every pollIntervalMs.
  const idleBefore = process.cpuUsage();
  await sleep(5000);
  const idle = process.cpuUsage(idleBefore);
  console.log(
    `\nThis process while idle for 5 s with one redisStore polling (and nothing else to do): ${((idle.user + idle.system) / 5 / 1000).toFixed(2)} ms CPU per second.`,
  );
  for (const middleware of Object.values(variants)) await middleware.close();
  await shared.close();
  await client.quit();
} finally {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
process.exit(0);
