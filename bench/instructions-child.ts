/**
 * One row of `npm run bench:instructions`, run by it under callgrind (instrumentation off at
 * start). Builds the row's app, warms it up uninstrumented, then starts callgrind and dumps its
 * counters after each window of requests: a settling window (discarded), one empty window (what the window's own
 * scaffolding costs), then the windows the parent asked for, in order.
 * Env: BENCH_ROW, BENCH_DATA (JSON file), BENCH_WARMUP, BENCH_WINDOWS ("1000,1500,..."),
 * BENCH_ADDON (the compiled bench/callgrind-client.c).
 */
import { readFileSync } from 'node:fs';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { type BenchData, buildApp, PRE_ROLL, ROWS } from './instructions-apps.js';

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const row = ROWS.find((candidate) => candidate.id === env('BENCH_ROW'));
if (row === undefined) throw new Error(`unknown row ${process.env.BENCH_ROW}`);
const data = JSON.parse(readFileSync(env('BENCH_DATA'), 'utf8')) as BenchData;
const warmup = Number(env('BENCH_WARMUP'));
const windows = env('BENCH_WINDOWS').split(',').map(Number);
const callgrind = createRequire(import.meta.url)(env('BENCH_ADDON')) as Record<
  'start' | 'dump' | 'stop',
  () => void
>;

// express-oauth2-jwt-bearer takes only a JWKS URL: served here on loopback, fetched once in the warm-up.
if (row.id.includes('oauth2')) {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(data.jwks);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  data.jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  server.unref();
}

let done = false;
let wake: (() => void) | undefined;
const app = await buildApp(row, data, () => {
  done = true;
  if (wake !== undefined) {
    const resolve = wake;
    wake = undefined;
    resolve();
  }
});

const socket = new Socket();
const koa = row.framework === 'koa';
let sent = 0;
async function request(): Promise<void> {
  const headers = app.headers(sent++);
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/';
  req.headers = headers;
  req.rawHeaders = Object.entries(headers).flat();
  const res = new ServerResponse(req);
  done = false;
  const returned = app.handle(req, res);
  if (koa) await returned;
  else if (!done) await new Promise<void>((resolve) => (wake = resolve));
  if (!done || res.statusCode !== 200)
    throw new Error(`${row?.id}: request ${sent} answered ${res.statusCode}`);
}

async function run(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await request();
}

// A refused asynchronous request would never finish: fail loudly instead of hanging.
setTimeout(() => {
  console.error(`${row.id}: stalled`);
  process.exit(3);
}, 3_600_000).unref();

await run(warmup);

declare const gc: (options?: { type: 'major' | 'minor' }) => void;
/**
 * One counted window. The collector is kept out of it: a full collection runs first, outside
 * the count, and the young generation (the parent's --min/--max-semi-space-size) is big enough
 * that no collection starts inside. A GC profiler proves it; a window a collection ran in is
 * reported, never counted. The bytes the window allocated (heap in use after minus before, with
 * no collection between) are the collector's future work, reported per request beside the count.
 */
const windowsOut: { requests: number; allocated: number; collections: number }[] = [];
async function counted(count: number): Promise<void> {
  gc({ type: 'minor' });
  // A few requests outside the count after the collection: the first inserts into a weak table
  // after a collection rehash it (630k instructions in every window of the Koa jwtAuth row,
  // whatever its size), a cost of the collection, not of the requests counted.
  await run(PRE_ROLL);
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  callgrind.start();
  await run(count);
  callgrind.dump();
  callgrind.stop();
  const allocated = getHeapStatistics().used_heap_size - before;
  const collections = profiler.stop()?.statistics.length ?? 0;
  windowsOut.push({ requests: count, allocated, collections });
}

// A settling window of three times the first size, dumped and discarded: the first window after
// the warm-up ran apart from the later ones in most rows (a late optimization, a table growing).
await counted(3 * (windows[0] ?? 0));
await counted(0);
for (const count of windows) await counted(count);
console.log(`windows ${JSON.stringify(windowsOut)}`);
console.log(`done ${sent}`);
process.exit(0);
