/**
 * `npm run bench`: each app runs in its own process on 127.0.0.1 and is loaded by autocannon
 * (50 connections, the same settings for every row). Machines like ours swing by +-25% from
 * second to second, so each row is measured in alternating one-second slices beside its bare
 * framework, and each ratio is reported as the median of the slice ratios with their range.
 * Writes BENCHMARKS.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AUDIENCE, ISSUER } from './constants.js';

const SLICES = Number(process.env.BENCH_SLICES ?? 5);
const SLICE_SECONDS = 1;
const CONNECTIONS = 50;

interface Slice {
  rps: number;
  p50: number;
  p99: number;
}

async function startApp(row: string, jwks: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], {
    env: { ...process.env, BENCH_ROW: row, BENCH_JWKS: jwks, NODE_ENV: 'production' },
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

async function slice(port: number, tokens: readonly string[] | undefined): Promise<Slice> {
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: CONNECTIONS,
    duration: SLICE_SECONDS,
    requests: [
      {
        setupRequest(request) {
          if (tokens === undefined) return request;
          const token = tokens[next++ % tokens.length];
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
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
  tokens: () => readonly string[];
}

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
  const rs256 = [await mint('RS256', 0)];
  const es256 = [await mint('ES256', 0)];
  console.log('minting tokens...');
  const distinct: string[] = [];
  for (let i = 0; i < 3000; i++) distinct.push(await mint('RS256', i));

  const rows: Row[] = [
    {
      name: 'Express: jwtAuth RS256, one token repeated',
      app: 'express-jwt',
      bare: 'express-bare',
      tokens: () => rs256,
    },
    {
      name: 'Express: jwtAuth ES256, one token repeated',
      app: 'express-jwt',
      bare: 'express-bare',
      tokens: () => es256,
    },
    {
      name: 'Express: jwtAuth RS256, 3000 distinct tokens',
      app: 'express-jwt',
      bare: 'express-bare',
      tokens: () => distinct,
    },
    { name: 'Koa: jwtAuth RS256, one token repeated', app: 'koa-jwt', bare: 'koa-bare', tokens: () => rs256 },
  ];

  const apps = new Map<string, { port: number; child: ChildProcess }>();
  for (const name of ['express-bare', 'express-jwt', 'koa-bare', 'koa-jwt'])
    apps.set(name, await startApp(name, jwks));
  console.log('apps started; measuring');
  const lines: string[] = [];
  try {
    for (const app of apps.values()) await slice(app.port, rs256); // warm-up
    for (const row of rows) {
      const ratios: number[] = [];
      const measured: Slice[] = [];
      const bare: Slice[] = [];
      for (let i = 0; i < SLICES; i++) {
        const b = await slice(apps.get(row.bare)!.port, undefined);
        const m = await slice(apps.get(row.app)!.port, row.tokens());
        bare.push(b);
        measured.push(m);
        ratios.push(m.rps / b.rps);
      }
      const line = `| ${row.name} | ${Math.round(median(measured.map((s) => s.rps)))} | ${median(measured.map((s) => s.p50))} | ${median(measured.map((s) => s.p99))} | ${Math.round(median(bare.map((s) => s.rps)))} | **${median(ratios).toFixed(2)}x** (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) |`;
      console.log(line);
      lines.push(line);
    }
  } finally {
    for (const app of apps.values()) app.child.kill();
  }
  const report = `# Benchmarks

Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}.
autocannon, ${CONNECTIONS} connections, each row loaded in ${SLICES} alternating ${SLICE_SECONDS}-second slices beside its bare framework
(each app in its own process). The ratio is the median of the per-slice ratios; the range in brackets is the lowest and highest slice.

| row | req/s | p50 ms | p99 ms | bare req/s | ratio to bare |
|---|---|---|---|---|---|
${lines.join('\n')}
`;
  writeFileSync('BENCHMARKS.md', report);
  console.log('\nwritten to BENCHMARKS.md');
}

await main();
