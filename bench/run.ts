/**
 * `npm run bench`: each app runs in its own process on 127.0.0.1 and is loaded by autocannon
 * (50 connections, the same settings for every row). Machines like ours swing by +-25% from
 * second to second, so each row is measured in alternating one-second slices beside its bare
 * framework, and each ratio is reported as the median of the slice ratios with their range.
 * Then the event-loop delay of a gateway while a client floods wrong passwords: for a bcrypt
 * user, and long passwords against a SHA-512-crypt and an apr1 htpasswd (11 KB, over the
 * length cap, and 1 KB, at it: hashed). Writes BENCHMARKS.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import bcrypt from 'bcryptjs';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { APR1_LINE, AUDIENCE, apiKeyOf, BASIC_USER, ISSUER, SHA512_LINE } from './constants.js';

const SLICES = Number(process.env.BENCH_SLICES ?? 6);
/** The body of the backendAuth rows: a small chat request, as an AI gateway forwards. */
const CHAT = {
  method: 'POST',
  body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'Hello, upstream.' }] }),
} as const;
const SLICE_SECONDS = 1;
const CONNECTIONS = 50;

interface Slice {
  rps: number;
  p50: number;
  p99: number;
  /** CPU microseconds the app spent per request over the slice. */
  cpu: number;
}

async function usage(port: number): Promise<{ cpuUs: number; served: number }> {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { cpuUs: number; served: number };
}

interface App {
  port: number;
  child: ChildProcess;
}

// On a machine with two or more cores, the load generator (this process) and the apps under
// test are pinned to different cores: sharing one core, every microsecond autocannon spends
// building requests is taken from the app, and the noise swamps the differences measured.
const CORES = availableParallelism();
const PIN = CORES >= 2 && process.env.BENCH_PIN !== '0' && spawnSync('taskset', ['-V']).status === 0;
const APP_CORES = CORES === 2 ? '1' : `1-${CORES - 1}`;
if (PIN) spawnSync('taskset', ['-cp', '0', String(process.pid)]);

async function startApp(row: string, env: Record<string, string>, pinned = PIN): Promise<App> {
  const node = [process.execPath, '--import', 'tsx', 'bench/server.ts'];
  const [command, ...args] = pinned ? ['taskset', '-c', APP_CORES, ...node] : node;
  const child = spawn(command!, args, {
    env: { ...process.env, ...env, BENCH_ROW: row, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${row} exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
  });
  return { port, child };
}

type Headers = () => Record<string, string>;

/** What a row sends besides its headers (the backendAuth rows POST a small JSON body). */
interface Payload {
  method?: 'GET' | 'POST';
  body?: string;
}

async function load(
  port: number,
  headers: Headers | undefined,
  seconds: number,
  expectOk = true,
  amount?: number,
  payload: Payload = {},
  connections = CONNECTIONS,
) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    ...(amount === undefined ? { duration: seconds } : { amount }),
    requests: [
      {
        method: payload.method ?? 'GET',
        ...(payload.body === undefined ? {} : { body: payload.body }),
        setupRequest(request) {
          return headers === undefined
            ? request
            : { ...request, headers: { ...request.headers, ...headers() } };
        },
      },
    ],
  });
  if (expectOk && (result.non2xx > 0 || result.errors > 0)) {
    throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return result;
}

async function slice(port: number, headers: Headers | undefined, payload?: Payload): Promise<Slice> {
  const before = await usage(port);
  const result = await load(port, headers, SLICE_SECONDS, true, undefined, payload);
  const after = await usage(port);
  // The /stats request that reads `after` is counted in `served`: leave it out.
  const requests = Math.max(1, after.served - before.served - 1);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: (after.cpuUs - before.cpuUs) / requests,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Row {
  name: string;
  app: string;
  bare: string;
  headers: Headers;
  payload?: Payload;
}

const cycle = (values: readonly string[], header: string, prefix = ''): Headers => {
  let next = 0;
  return () => ({ [header]: `${prefix}${values[next++ % values.length]}` });
};

const basicValue = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** 16 wrong passwords of `size` bytes, built once: half for `user`, half for unknown users. */
const longPasswords = (user: string, size: number) =>
  Array.from({ length: 16 }, (_, i) =>
    basicValue(i % 2 ? user : `nobody-${i}`, `${String(i).padStart(4, '0')}${'x'.repeat(size - 4)}`),
  );

async function main() {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const jwks = JSON.stringify({
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
    ],
  });
  const mint = (alg: 'RS256' | 'ES256', n: number) =>
    new SignJWT({ sub: `user-${n}`, scope: 'read' })
      .setProtectedHeader({ alg, kid: alg === 'RS256' ? 'rsa' : 'ec' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(alg === 'RS256' ? rsa.privateKey : ec.privateKey);
  console.log('minting tokens...');
  const rs256 = [await mint('RS256', 0)];
  const es256 = [await mint('ES256', 0)];
  const distinct: string[] = [];
  for (let i = 0; i < 3000; i++) distinct.push(await mint('RS256', i));
  const basic = `Basic ${Buffer.from(`${BASIC_USER.username}:${BASIC_USER.password}`).toString('base64')}`;

  const bearer = (tokens: readonly string[]) => cycle(tokens, 'authorization', 'Bearer ');
  const basicHeader: Headers = () => ({ authorization: basic });
  const row = (name: string, app: string, headers: Headers): Row => ({
    name,
    app,
    bare: app.startsWith('koa') ? 'koa-bare' : 'express-bare',
    headers,
  });
  const rows: Row[] = [
    row('Express: jwtAuth RS256, one token repeated', 'express-jwt', bearer(rs256)),
    row('Express: jwtAuth ES256, one token repeated', 'express-jwt', bearer(es256)),
    row(
      'Express: jwtAuth RS256, a new token every request (cache off)',
      'express-jwt-nocache',
      bearer(distinct),
    ),
    row(
      'Express: hand-written jose middleware, a new token every request',
      'express-anchor-jose',
      bearer(distinct),
    ),
    row('Express: express-jwt 8, one token repeated', 'express-anchor-express-jwt', bearer(rs256)),
    row(
      'Express: express-oauth2-jwt-bearer 1, one token repeated',
      'express-anchor-oauth2-jwt-bearer',
      bearer(rs256),
    ),
    row('Express: passport-jwt 4, one token repeated', 'express-anchor-passport-jwt', bearer(rs256)),
    row('Express: authorize, 3 rules, after cached jwtAuth', 'express-jwt-authz', bearer(rs256)),
    row('Express: basicAuth apr1, repeated credentials', 'express-basic', basicHeader),
    row('Express: basicAuth bcrypt-10, repeated credentials', 'express-basic-bcrypt', basicHeader),
    row('Express: express-basic-auth 1 (plaintext users)', 'express-anchor-express-basic-auth', basicHeader),
    row('Express: http-auth 4, apr1 htpasswd', 'express-anchor-http-auth', basicHeader),
    row('Express: apiKeyAuth, 10 keys', 'express-apikey-10', cycle([apiKeyOf(9)], 'x-api-key')),
    row('Express: apiKeyAuth, 10,000 keys', 'express-apikey-10000', cycle([apiKeyOf(9999)], 'x-api-key')),
    {
      ...row(
        'Express: backendAuth key, http-proxy-middleware to a local upstream',
        'express-forward-key',
        bearer(rs256),
      ),
      bare: 'express-forward',
      payload: CHAT,
    },
    {
      ...row(
        'Express: backendAuth SigV4 (body read and restored), same proxy',
        'express-forward-sigv4',
        bearer(rs256),
      ),
      bare: 'express-forward',
      payload: CHAT,
    },
    row('Koa: jwtAuth RS256, one token repeated', 'koa-jwt', bearer(rs256)),
    row('Koa: koa-jwt 4, one token repeated', 'koa-anchor-koa-jwt', bearer(rs256)),
    row('Koa: basicAuth apr1, repeated credentials', 'koa-basic', basicHeader),
    row('Koa: apiKeyAuth, 10 keys', 'koa-apikey-10', cycle([apiKeyOf(9)], 'x-api-key')),
  ];

  // BENCH_ROWS=<regex> measures only the matching rows and floods (and skips the memory run).
  const only = process.env.BENCH_ROWS === undefined ? undefined : new RegExp(process.env.BENCH_ROWS, 'i');
  if (only !== undefined) rows.splice(0, rows.length, ...rows.filter((r) => only.test(r.name)));
  const upstream = await startApp('upstream', {});
  const htpasswdPath = join(mkdtempSync(join(tmpdir(), 'portcullis-bench-')), 'htpasswd');
  writeFileSync(htpasswdPath, `${APR1_LINE}\n`);
  const env = {
    BENCH_JWKS: jwks,
    BENCH_HTPASSWD: `${APR1_LINE}\n`,
    BENCH_HTPASSWD_BCRYPT: `${BASIC_USER.username}:${bcrypt.hashSync(BASIC_USER.password, 10)}\n`,
    BENCH_UPSTREAM: `http://127.0.0.1:${upstream.port}`,
    BENCH_HTPASSWD_PATH: htpasswdPath,
    BENCH_PUBLIC_PEM: await exportSPKI(rsa.publicKey),
  };
  // Only the bare apps (and the upstream) stay up; each row's app runs just for its row. Idle
  // apps sharing the measured app's core are not free: every one of them wakes up for its
  // timers and sockets, and the measured app pays for it in cache misses and scheduling.
  const apps = new Map<string, App>([['upstream', upstream]]);
  for (const name of new Set(rows.map((row) => row.bare))) apps.set(name, await startApp(name, env));
  console.log('bare apps started; measuring');
  const lines: string[] = [];
  const floodLines: string[] = [];
  let memoryLine = '';
  try {
    for (const row of rows) {
      const app = await startApp(row.app, env);
      apps.set(row.app, app);
      await slice(app.port, row.headers, row.payload); // warm-up: the JIT, caches, keep-alive
      await slice(apps.get(row.bare)!.port, row.headers, row.payload);
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      const measured: Slice[] = [];
      const bare: Slice[] = [];
      for (let i = 0; i < SLICES; i++) {
        // Which of the pair goes first alternates, so drift within a pair cancels out.
        const bareFirst = i % 2 === 0;
        // The bare app gets the very same requests (it ignores the credential): building them
        // costs the load generator CPU on the same two cores, and must cost it on both sides.
        const first = await slice(apps.get(bareFirst ? row.bare : row.app)!.port, row.headers, row.payload);
        const second = await slice(apps.get(bareFirst ? row.app : row.bare)!.port, row.headers, row.payload);
        const [b, m] = bareFirst ? [first, second] : [second, first];
        bare.push(b);
        measured.push(m);
        ratios.push(m.rps / b.rps);
        cpuRatios.push(b.cpu / m.cpu);
      }
      const line = `| ${row.name} | ${Math.round(median(measured.map((s) => s.rps)))} | ${median(measured.map((s) => s.p50))} | ${median(measured.map((s) => s.p99))} | ${Math.round(median(bare.map((s) => s.rps)))} | **${median(ratios).toFixed(2)}x** (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) | ${median(measured.map((s) => s.cpu)).toFixed(1)} / ${median(bare.map((s) => s.cpu)).toFixed(1)} | **${median(cpuRatios).toFixed(2)}x** (${Math.min(...cpuRatios).toFixed(2)}-${Math.max(...cpuRatios).toFixed(2)}) |`;
      console.log(line);
      lines.push(line);
      app.child.kill();
      apps.delete(row.app);
    }

    // The wrong-password floods: 50 connections (8 for the rows that replay the issue's attack), 5 s each; the gateway reports its own
    // event-loop delay over exactly that window. The long-password floods send no valid user
    // (half of them unknown users): 11 KB passwords are over basicAuth's length cap (1024
    // bytes) and refused unhashed; 1 KB ones are at it, so each one is hashed.
    const floods = (
      [
        {
          name: 'Express: basicAuth bcrypt-10, wrong passwords',
          htpasswd: `alice:${bcrypt.hashSync('correct horse', 10)}\n`,
          headers: cycle([basicValue('alice', 'wrong password')], 'authorization'),
        },
        ...[
          { hash: 'SHA-512-crypt', line: SHA512_LINE, user: 'alice' },
          { hash: 'apr1', line: APR1_LINE, user: BASIC_USER.username },
        ].flatMap(({ hash, line, user }) =>
          [11 * 1024, 1024].map((size) => ({
            name: `Express: basicAuth ${hash}, ${size / 1024} KB wrong passwords${size > 1024 ? ' (over the cap)' : ' (at the cap, hashed)'}`,
            htpasswd: `${line}\n`,
            headers: cycle(longPasswords(user, size), 'authorization'),
          })),
        ),
        // The attack as the hardening issue found it: eight clients sending ~11 KB passwords,
        // which held an unrelated request for 1-2 s. Eight connections load the app without
        // saturating it, so the delay is what the passwords cost, not the load generator's.
        ...[
          { hash: 'SHA-512-crypt', line: SHA512_LINE, user: 'alice' },
          { hash: 'apr1', line: APR1_LINE, user: BASIC_USER.username },
        ].map(({ hash, line, user }) => ({
          name: `Express: basicAuth ${hash}, 11 KB wrong passwords from 8 clients (the issue's attack)`,
          htpasswd: `${line}\n`,
          headers: cycle(longPasswords(user, 11 * 1024), 'authorization'),
          connections: 8,
        })),
        {
          // The control of the rows above: a refusal that costs one SHA-1, with a short header.
          // Whatever delay it shows is that of a saturated app answering 401s, not of hashing.
          name: 'Express: basicAuth {SHA}, short wrong passwords (control: nothing slow to hash)',
          htpasswd: `alice:{SHA}${createHash('sha1').update('correct horse').digest('base64')}\n`,
          headers: cycle(
            Array.from({ length: 16 }, (_, i) => basicValue(i % 2 ? 'alice' : `nobody-${i}`, `wrong-${i}`)),
            'authorization',
          ),
        },
      ] as { name: string; htpasswd: string; headers: Headers; connections?: number }[]
    ).filter((flood) => only === undefined || only.test(flood.name));
    for (const { name, htpasswd, headers, connections } of floods) {
      // Not pinned: the hashing workers must be free to run on a core of their own.
      const gateway = await startApp(
        'express-basic',
        { ...env, BENCH_HTPASSWD: htpasswd, BENCH_DELAY: '1' },
        false,
      );
      apps.set(`flood ${name}`, gateway);
      await fetch(`http://127.0.0.1:${gateway.port}/stats`);
      const flood = await load(gateway.port, headers, 5, false, undefined, {}, connections);
      const delay = (await (await fetch(`http://127.0.0.1:${gateway.port}/stats`)).json()) as Record<
        string,
        number
      >;
      const statuses = Object.entries(flood.statusCodeStats ?? {})
        .map(([status, { count }]) => `${count ?? 0} x ${status}`)
        .join(', ');
      const floodLine = `| ${name} | ${Math.round(flood.requests.average)} req/s (${statuses}) | ${delay.p50} | ${delay.p99} | ${delay.max} |`;
      console.log(floodLine);
      floodLines.push(floodLine);
      gateway.child.kill();
      apps.delete(`flood ${name}`);
    }
    if (only !== undefined) {
      console.log('partial run (BENCH_ROWS): BENCHMARKS.md left as it is');
      return;
    }
    // Memory: 100,000 distinct invalid tokens (well-formed, bad signatures) against a fresh gateway.
    const fresh = await startApp('express-jwt', env);
    apps.set('memory', fresh);
    await load(fresh.port, bearer(rs256), 2);
    const idle = (await (await fetch(`http://127.0.0.1:${fresh.port}/stats`)).json()) as Record<
      string,
      number
    >;
    const [head, body] = rs256[0]!.split('.');
    let n = 0;
    const invalid: Headers = () => ({
      authorization: `Bearer ${head}.${body}.${Buffer.from(`forged-${n++}`).toString('base64url')}`,
    });
    await load(fresh.port, invalid, 0, false, 100_000);
    const after = (await (await fetch(`http://127.0.0.1:${fresh.port}/stats`)).json()) as Record<
      string,
      number
    >;
    memoryLine = `| Express: jwtAuth after 100,000 distinct invalid tokens | ${idle.rssMb} | ${after.rssMb} | ${Math.round((after.rssMb! - idle.rssMb!) * 10) / 10} |`;
    console.log(memoryLine);
  } finally {
    for (const app of apps.values()) app.child.kill();
  }
  const report = `# Benchmarks

Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}.
autocannon, ${CONNECTIONS} connections, each row loaded in ${SLICES} alternating ${SLICE_SECONDS}-second slices beside its bare framework
(each app in its own process, started for its row only; the backendAuth rows are measured beside the same proxy without backendAuth${PIN ? `, pinned to core(s) ${APP_CORES} while autocannon runs on core 0` : ''}). The ratio is the median of the per-slice ratios; the range in brackets is the lowest and highest slice.
The CPU columns are the app process's own CPU time per request over each slice (\`process.cpuUsage()\`), and the CPU ratio is bare's CPU per request over the row's: what the throughput ratio would be if the app alone were the bottleneck, and far steadier on a noisy host.

| row | req/s | p50 ms | p99 ms | bare req/s | ratio to bare | CPU us/req, row / bare | CPU ratio |
|---|---|---|---|---|---|---|---|
${lines.join('\n')}

Event-loop delay of the gateway (perf_hooks, 1 ms resolution) while a client floods wrong passwords for 5 s over 50 connections, or 8 where the row says 8 clients (no valid user; the long-password floods alternate the user and unknown users; the length cap is the default 1024 bytes):

| scenario | load | delay p50 ms | delay p99 ms | delay max ms |
|---|---|---|---|---|
${floodLines.join('\n')}

Resident memory of a gateway process (MB):

| scenario | idle (after warm-up) | after | growth |
|---|---|---|---|
${memoryLine}
`;
  // The tables are regenerated; the reading of them, written by hand below a "## Reading"
  // heading, is kept from the previous file.
  const previous = existsSync('BENCHMARKS.md') ? readFileSync('BENCHMARKS.md', 'utf8') : '';
  const reading = previous.indexOf('\n## Reading');
  writeFileSync('BENCHMARKS.md', reading === -1 ? report : `${report}${previous.slice(reading)}`);
  console.log('\nwritten to BENCHMARKS.md');
}

await main();
