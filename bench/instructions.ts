/**
 * `npm run bench:instructions`: user-space instructions per request, counted by valgrind's
 * callgrind, deterministic where wall-clock figures on this host are not.
 *
 * Per row, ONE process: `valgrind --tool=callgrind --instr-atstart=no node --single-threaded
 * --predictable-gc-schedule ... bench/instructions-child.ts`. The child builds the row's app
 * (Express 5 or Koa 3, fed real IncomingMessage/ServerResponse objects, no sockets), warms it up
 * uninstrumented, then starts callgrind itself (a Valgrind client request, `callgrind-client.c`)
 * and dumps the counters after each window: an empty window (the scaffolding, subtracted), then
 * windows of five different sizes. Each window gives instructions per request; the row reports
 * their median and spread (max - min), and its cost over the same framework's bare app.
 * A row whose spread is over 10% of its cost over bare is run again with twice the warm-up and
 * windows, up to BENCH_ATTEMPTS times, then printed as unresolved with its figures.
 *
 * Env: BENCH_ROWS=regex (row ids or labels; the bare row of each framework is always added),
 * BENCH_ATTEMPTS (default 3), BENCH_KEEP=dir (keep the callgrind dumps there, for
 * callgrind_annotate), BENCH_JSON=file (the results as JSON).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { readTotal } from './callgrind-dump.js';
import { AUDIENCE, ISSUER } from './constants.js';
import { type BenchData, PRE_ROLL, ROWS, type RowSpec } from './instructions-apps.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Each window must fit in the young generation: 512 MB holds the largest window of the heaviest row twice over. */
const SEMI_SPACE_MB = 512;
const NODE_FLAGS = [
  '--single-threaded',
  // The collector is kept out of the windows: a forced collection before each (outside the
  // count) and a young generation no window fills (--predictable-gc-schedule would pin it at 4 MB).
  '--expose-gc',
  `--min-semi-space-size=${SEMI_SPACE_MB}`,
  `--max-semi-space-size=${SEMI_SPACE_MB}`,
  '--no-memory-reducer',
  '--hash-seed=1',
  '--random-seed=1',
  '--perf-basic-prof-only-functions',
];
/** Window sizes of the first attempt; each retry doubles them and the warm-up. */
const LIGHT = { warmup: 12_000, windows: [1_000, 1_500, 2_000, 2_500, 3_000] };
const HEAVY = { warmup: 3_000, windows: [200, 300, 400, 500, 600] };
const ATTEMPTS = Number(process.env.BENCH_ATTEMPTS ?? 2);
const SPREAD_LIMIT = 0.1;
/** Bare rows have no cost over bare: their spread is held to this share of their median. */
const BARE_SPREAD_LIMIT = 0.01;

function addon(): string {
  const source = join(here, 'callgrind-client.c');
  const digest = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const target = join(tmpdir(), `portcullis-callgrind-client-${digest}.node`);
  if (!existsSync(target)) {
    execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-I/usr/include/node', '-o', target, source]);
  }
  return target;
}

async function keysAndTokens() {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const jwks = JSON.stringify({
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
    ],
  });
  const mint = (alg: 'RS256' | 'ES256', sub: string) =>
    new SignJWT({ sub, scope: 'read' })
      .setProtectedHeader({ alg, kid: alg === 'RS256' ? 'rsa' : 'ec', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('6h')
      .sign(alg === 'RS256' ? rsa.privateKey : ec.privateKey);
  const distinct: string[] = [];
  return {
    base: {
      jwks,
      rsaPem: await exportSPKI(rsa.publicKey),
      rs256: await mint('RS256', 'user-00000000'),
      es256: await mint('ES256', 'user-00000000'),
      jwksUrl: '',
    },
    /** The first `count` distinct tokens, all of the cached token's length. */
    async distinct(count: number) {
      while (distinct.length < count) {
        distinct.push(await mint('RS256', `user-${String(distinct.length + 1).padStart(8, '0')}`));
      }
      return distinct.slice(0, count);
    },
  };
}

/** The total of each numbered dump of one callgrind run, in order. */
function dumps(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => /^cg\.out\.(\d+)$/.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b)
    .map((n) => readTotal(join(dir, `cg.out.${n}`)));
}

interface Measured {
  row: RowSpec;
  /** Instructions per request of each window (no collection runs inside one). */
  perWindow: number[];
  /** Heap bytes allocated per request, median of the windows: the collector's future work. */
  allocated: number;
  /** Collections that ran inside the counted windows (external memory pressure): 0 normally. */
  collections: number;
  windows: number[];
  warmup: number;
  median: number;
  spread: number;
  seconds: number;
  attempts: number;
  resolved: boolean;
  overBare?: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const at = (i: number) => sorted[i] ?? Number.NaN;
  return sorted.length % 2 === 1 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
};

async function runChild(row: RowSpec, data: BenchData, warmup: number, windows: number[], out: string) {
  const dataFile = join(out, 'data.json');
  writeFileSync(dataFile, JSON.stringify(data));
  const args = [
    '--tool=callgrind',
    '--instr-atstart=no',
    `--callgrind-out-file=${join(out, 'cg.out')}`,
    '--dump-instr=no',
    node,
    ...NODE_FLAGS,
    '--import',
    'tsx',
    join(here, 'instructions-child.ts'),
  ];
  const child = spawn('valgrind', args, {
    cwd: join(here, '..'),
    env: {
      ...process.env,
      BENCH_ROW: row.id,
      BENCH_DATA: dataFile,
      BENCH_WARMUP: String(warmup),
      BENCH_WINDOWS: windows.join(','),
      BENCH_ADDON: addonPath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0 || !/^done \d+/m.test(output)) {
    throw new Error(
      `${row.id}: the child failed (exit ${code}):\n${output.split('\n').slice(-30).join('\n')}`,
    );
  }
  const reported = /^windows (.*)$/m.exec(output)?.[1];
  if (reported === undefined) throw new Error(`${row.id}: the child reported no windows`);
  const windowsRun = JSON.parse(reported) as ChildWindow[];
  // A collection inside a window puts the collector back into its count. The young generation
  // is too big for allocation to start one; what can is external memory (express-jwt builds a
  // key object from the PEM on every request). Such a row is counted as it ran and says so.
  return windowsRun;
}

/** What the child reports of each window it ran, in order (settling, empty, counted...). */
interface ChildWindow {
  requests: number;
  /** Heap bytes in use after the window minus before it, with no collection between. */
  allocated: number;
  collections: number;
}

const node = process.execPath;
const addonPath = addon();

async function measure(row: RowSpec, tokens: Awaited<ReturnType<typeof keysAndTokens>>, bare?: Measured) {
  const plan = row.heavy ? HEAVY : LIGHT;
  let last: Measured | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const scale = 2 ** (attempt - 1);
    const warmup = plan.warmup * scale;
    const windows = plan.windows.map((size) => size * scale);
    const needed =
      warmup +
      3 * (windows[0] ?? 0) +
      windows.reduce((sum, size) => sum + size, 0) +
      PRE_ROLL * (windows.length + 2);
    const data: BenchData = { ...tokens.base, distinct: row.distinct ? await tokens.distinct(needed) : [] };
    const out = mkdtempSync(join(keep ?? tmpdir(), `${row.id}-${attempt}-`));
    const started = Date.now();
    const [, emptyWindow, ...countedWindows] = await runChild(row, data, warmup, windows, out);
    const seconds = (Date.now() - started) / 1000;
    const [, scaffold, ...counted] = dumps(out);
    if (scaffold === undefined || counted.length !== windows.length)
      throw new Error(`${row.id}: ${counted.length} dumps for ${windows.length} windows`);
    const perWindow = counted.map((total, i) => (total - scaffold) / (windows[i] ?? 1));
    const allocated = median(
      countedWindows.map((window) => (window.allocated - (emptyWindow?.allocated ?? 0)) / window.requests),
    );
    const mid = median(perWindow);
    const spread = Math.max(...perWindow) - Math.min(...perWindow);
    const overBare = bare === undefined ? undefined : mid - bare.median;
    const limit = overBare === undefined ? BARE_SPREAD_LIMIT * mid : SPREAD_LIMIT * overBare;
    last = {
      row,
      perWindow,
      allocated,
      collections: countedWindows.reduce((sum, window) => sum + window.collections, 0),
      windows,
      warmup,
      median: mid,
      spread,
      seconds,
      attempts: attempt,
      resolved: spread <= limit,
      overBare,
    };
    if (keep === undefined) rmSync(out, { recursive: true, force: true });
    else writeFileSync(join(out, 'windows.json'), JSON.stringify({ ...last, row: row.id }, null, 2));
    const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
    console.error(
      `${row.id} attempt ${attempt}: ${perWindow.map(k).join(' ')} -> median ${k(mid)}, spread ${k(spread)}, allocated ${Math.round(allocated)} B${last.collections > 0 ? `, ${last.collections} collection(s) inside` : ''}` +
        `${overBare === undefined ? '' : `, over bare ${k(overBare)}`} (${seconds.toFixed(0)} s)` +
        `${last.resolved ? '' : ' -- spread over the limit'}`,
    );
    if (last.resolved) break;
  }
  return last as Measured;
}

const keep = process.env.BENCH_KEEP;
if (keep !== undefined) mkdirSync(keep, { recursive: true });
const pattern = new RegExp(process.env.BENCH_ROWS ?? '.', 'i');
const wanted = ROWS.filter((row) => pattern.test(row.id) || pattern.test(row.label));
const frameworks = new Set(wanted.map((row) => row.framework));
const selected = ROWS.filter(
  (row) => wanted.includes(row) || (row.id.endsWith('-bare') && frameworks.has(row.framework)),
);

const startedAt = Date.now();
const tokens = await keysAndTokens();
const results = new Map<string, Measured>();
/** Callgrind's counts do not depend on what else runs: rows run BENCH_JOBS at a time (default 2). */
const jobs = Number(process.env.BENCH_JOBS ?? Math.min(2, availableParallelism()));
async function pool(rows: RowSpec[]) {
  const queue = [...rows];
  const worker = async () => {
    for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
      const bare = row.id.endsWith('-bare') ? undefined : results.get(`${row.framework}-bare`);
      results.set(row.id, await measure(row, tokens, bare));
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
}
// Bare rows first: every other row's retry rule needs its bare median.
await pool(selected.filter((row) => row.id.endsWith('-bare')));
await pool(selected.filter((row) => !row.id.endsWith('-bare')));
const minutes = (Date.now() - startedAt) / 60_000;

const k = (n: number) => `${Math.round(n / 1000).toLocaleString('en-US')}k`;
console.log(
  `Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${minutes.toFixed(1)} min for ${selected.length} rows, ${jobs} at a time`,
);
console.log(
  '\n| row | instructions per request, median of the windows | spread (max - min) | over bare | ratio to | heap allocated per request | windows (warm-up) |\n|---|---|---|---|---|---|---|',
);
for (const row of selected) {
  const result = results.get(row.id) as Measured;
  const { median: mid, spread, overBare, resolved, allocated } = result;
  const anchor = row.anchor === undefined ? undefined : results.get(row.anchor);
  const ratio =
    anchor?.overBare !== undefined && overBare !== undefined && anchor.resolved
      ? `${(overBare / anchor.overBare).toFixed(2)}x ${anchor.row.id}`
      : '-';
  const figure = resolved ? `**${k(mid)}**` : `unresolved (median ${k(mid)})`;
  const bareAllocated = results.get(`${row.framework}-bare`)?.allocated ?? 0;
  const bytes = (n: number) => `${Math.round(n).toLocaleString('en-US')} B`;
  console.log(
    `| ${row.label} | ${figure} | ${k(spread)} (${overBare === undefined ? `${((spread / mid) * 100).toFixed(1)}% of the median` : `${((spread / Math.abs(overBare)) * 100).toFixed(1)}% of over bare`}) | ${
      overBare === undefined ? '-' : `${resolved ? '' : '~'}${k(overBare)}`
    } | ${resolved ? ratio : '-'} | ${bytes(allocated)}${row.id.endsWith('-bare') ? '' : ` (${allocated >= bareAllocated ? '+' : ''}${bytes(allocated - bareAllocated)})`} | ${result.windows.map((n) => n.toLocaleString('en-US')).join(' / ')} (${result.warmup.toLocaleString('en-US')})${result.collections > 0 ? `; ${result.collections} collection(s) inside, counted` : ''} |`,
  );
}
if (process.env.BENCH_JSON !== undefined) {
  writeFileSync(
    process.env.BENCH_JSON,
    JSON.stringify(
      [...results.values()].map((result) => ({ ...result, row: result.row.id })),
      null,
      2,
    ),
  );
}
