// The package as users get it: build, `npm pack`, install the tarball in an empty folder
// elsewhere, then import it (ESM), require it (CommonJS), type-check a consumer against the
// published declarations, and run a real request through each adapter.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'portcullis-pack-'));
// A step that hangs (say, a process kept alive by a leaked handle) fails after two minutes.
const run = (command, args, cwd) =>
  execFileSync(command, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 120_000,
  });
let passed = 0;
let failed = 0;
const check = (name, fn) => {
  try {
    fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${name}\n${error.stdout ?? ''}${error.message}`);
  }
};

try {
  run('npm', ['run', 'build', '--silent'], root);
  run('npm', ['pack', '--silent', '--pack-destination', work], root);
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  const consumer = join(work, 'consumer');
  run('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  // express and koa come from the local npm cache the project install filled.
  run(
    'npm',
    [
      'install',
      '--silent',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(work, tarball),
      'express@5',
      'koa@3',
    ],
    consumer,
  );

  const probe = `
    const core = PORTCULLIS_CORE; const ex = PORTCULLIS_EXPRESS; const koa = PORTCULLIS_KOA;
    for (const lib of [ex, koa]) {
      if (typeof lib.jwtAuth !== 'function') throw new Error('jwtAuth missing');
      if (typeof lib.AuthError !== 'function') throw new Error('AuthError missing');
      if (typeof lib.backendAuth !== 'function') throw new Error('backendAuth missing');
    }
    if (typeof core.Inbound !== 'function') throw new Error('core Inbound missing');
    // SigV4 through aws4 as this build loads it, without any optional peer installed.
    core.backendCredentials({ aws: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x', region: 'us-east-1', service: 'bedrock' } })
      .apply({ method: 'POST', url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m:0/invoke', body: '{}' })
      .then((prepared) => {
        if (!prepared.headers.authorization.startsWith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/')) process.exit(1);
      }, () => process.exit(1));
  `;
  check('import (ESM) of portcullis, portcullis/express, portcullis/koa; a SigV4 apply()', () => {
    const source = `import * as c from 'portcullis'; import * as e from 'portcullis/express'; import * as k from 'portcullis/koa';
      ${probe.replace('PORTCULLIS_CORE', 'c').replace('PORTCULLIS_EXPRESS', 'e').replace('PORTCULLIS_KOA', 'k')}`;
    run('node', ['--input-type=module', '-e', source], consumer);
  });
  check('require (CommonJS) of portcullis, portcullis/express, portcullis/koa; a SigV4 apply()', () => {
    const source = probe
      .replace('PORTCULLIS_CORE', "require('portcullis')")
      .replace('PORTCULLIS_EXPRESS', "require('portcullis/express')")
      .replace('PORTCULLIS_KOA', "require('portcullis/koa')");
    run('node', ['-e', source], consumer);
  });
  check('a real request through both adapters from the installed package', () => {
    const source = `
      import express from 'express'; import Koa from 'koa';
      import { jwtAuth as forExpress } from 'portcullis/express'; import { jwtAuth as forKoa } from 'portcullis/koa';
      const options = { issuer: 'https://issuer.example', jwks: { inline: { keys: [] } } };
      const a = express(); a.use(forExpress(options)); a.use((req, res) => res.end('through'));
      const k = new Koa(); k.use(forKoa(options)); k.use((ctx) => { ctx.body = 'through'; });
      for (const handler of [a, k.callback()]) {
        const server = (await import('node:http')).createServer(handler).listen(0, '127.0.0.1');
        await new Promise((r) => server.once('listening', r));
        const res = await fetch('http://127.0.0.1:' + server.address().port + '/');
        const body = await res.json();
        if (res.status !== 401 || body.error !== 'credentials_missing') throw new Error('unexpected ' + res.status);
        server.close();
      }`;
    run('node', ['--input-type=module', '-e', source], consumer);
  });
  check('CommonJS: basicAuth checks a bcrypt password in its worker thread', () => {
    // The hashing workers locate bcryptjs from import.meta.url: this proves the CJS shim.
    const source = `
      const http = require('node:http'); const express = require('express');
      const bcrypt = require('${join(root, 'node_modules/bcryptjs/umd/index.js').replace(/\\/g, '/')}');
      const { basicAuth } = require('portcullis/express');
      const app = express();
      app.use(basicAuth({ htpasswd: 'ann:' + bcrypt.hashSync('pw-of-ann', 4) + '\\n' }));
      app.use((req, res) => res.end(req.auth.subject));
      const server = http.createServer(app).listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/';
        const good = await fetch(url, { headers: { authorization: 'Basic ' + Buffer.from('ann:pw-of-ann').toString('base64') } });
        const bad = await fetch(url, { headers: { authorization: 'Basic ' + Buffer.from('ann:nope').toString('base64') } });
        server.close();
        if (good.status !== 200 || (await good.text()) !== 'ann' || bad.status !== 401) process.exit(1);
      });`;
    run('node', ['-e', source], consumer);
  });
  check('type declarations resolve for ESM and CommonJS consumers', () => {
    writeFileSync(
      join(consumer, 'esm.mts'),
      "import { backendAuth, jwtAuth, type Auth } from 'portcullis/express';\nconst m = jwtAuth({ issuer: 'x', jwks: { url: 'https://x/jwks' } });\nvoid m.close();\nconst b = backendAuth({ anthropic: { apiKey: '$ANTHROPIC_API_KEY' } });\nvoid b.apply({ url: 'https://api.anthropic.com/v1/messages', method: 'POST', body: '{}' });\nexport type A = Auth;\n",
    );
    writeFileSync(
      join(consumer, 'cjs.cts'),
      "import koa = require('portcullis/koa');\nconst m = koa.jwtAuth({ issuer: 'x', jwks: { file: 'k.json' } });\nexport = m;\n",
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    run('node', [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], consumer);
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(`package: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
