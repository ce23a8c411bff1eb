// The package as users get it: build, `npm pack`, install the tarball in an empty folder
// elsewhere, then import it (ESM), require it (CommonJS), type-check a consumer against the
// published declarations, and run a real request through each adapter. The type cases of
// test/package/types (inline middleware and Express's query type, Koa's state, declared
// claims, coexistence with express-oauth2-jwt-bearer, node10 resolution) are compiled with
// `tsc --strict` against the installed tarball, on @types/express 5 and 4, @types/koa 3 and 2.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
      '@types/express@5',
      '@types/koa@3',
      '@types/node@20',
      'express-oauth2-jwt-bearer@1',
    ],
    consumer,
  );
  // The older majors' types in a consumer of their own (one @types/koa per project: the
  // package's `declare module 'koa'` augments the one its own lookup finds).
  const legacy = join(consumer, 'legacy');
  run('mkdir', ['-p', legacy]);
  writeFileSync(join(legacy, 'package.json'), JSON.stringify({ name: 'legacy', private: true }));
  run(
    'npm',
    [
      'install',
      '--silent',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(work, tarball),
      '@types/express@4',
      '@types/koa@2',
      '@types/node@20',
    ],
    legacy,
  );
  const typeCases = join(root, 'test/package/types');
  for (const folder of [consumer, legacy]) {
    for (const file of readdirSync(typeCases)) copyFileSync(join(typeCases, file), join(folder, file));
  }

  // The curated public API: exactly these run-time values, nothing of the adapter kit.
  const probe = `
    const core = PORTCULLIS_CORE; const ex = PORTCULLIS_EXPRESS; const coexist = PORTCULLIS_COEXIST; const koa = PORTCULLIS_KOA;
    const values = (lib) => Object.keys(lib).filter((name) => name !== 'default' && name !== 'module.exports').sort().join(' ');
    const expected = {
      core: 'AuthError AuthResult ConfigError backendCredentials forwardableHeaders memoryStore redisStore replayCache',
      express: 'AuthError AuthResult ConfigError anyAuth apiKeyAuth authOf authorize backendAuth basicAuth customAuth forwardIdentity jwtAuth mcpAuth memoryStore redisStore replayCache requireScopes',
      koa: 'AuthError AuthResult ConfigError anyAuth apiKeyAuth authOf authorize backendAuth basicAuth customAuth forwardIdentity jwtAuth koaRouting mcpAuth memoryStore redisStore replayCache requireScopes',
    };
    for (const [name, lib, want] of [['portcullis', core, expected.core], ['portcullis/express', ex, expected.express],
        ['portcullis/express/coexist', coexist, expected.express], ['portcullis/koa', koa, expected.koa]]) {
      if (values(lib) !== want) throw new Error(name + ' exports ' + values(lib));
    }
    if (ex.jwtAuth !== coexist.jwtAuth) throw new Error('portcullis/express/coexist is not the same module');
    // SigV4 through aws4 as this build loads it, without any optional peer installed.
    core.backendCredentials({ aws: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x', region: 'us-east-1', service: 'bedrock' } })
      .apply({ method: 'POST', url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m:0/invoke', body: '{}' })
      .then((prepared) => {
        if (!prepared.headers.authorization.startsWith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/')) process.exit(1);
      }, () => process.exit(1));
  `;
  check('import (ESM) of portcullis, portcullis/express, portcullis/koa; a SigV4 apply()', () => {
    const source = `import * as c from 'portcullis'; import * as e from 'portcullis/express';
      import * as x from 'portcullis/express/coexist'; import * as k from 'portcullis/koa';
      ${probe.replace('PORTCULLIS_CORE', 'c').replace('PORTCULLIS_EXPRESS', 'e').replace('PORTCULLIS_COEXIST', 'x').replace('PORTCULLIS_KOA', 'k')}`;
    run('node', ['--input-type=module', '-e', source], consumer);
  });
  check('require (CommonJS) of portcullis, portcullis/express, portcullis/koa; a SigV4 apply()', () => {
    const source = probe
      .replace('PORTCULLIS_CORE', "require('portcullis')")
      .replace('PORTCULLIS_EXPRESS', "require('portcullis/express')")
      .replace('PORTCULLIS_COEXIST', "require('portcullis/express/coexist')")
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
      "import express = require('portcullis/express');\nconst m = express.jwtAuth({ issuer: 'x', jwks: { file: 'k.json' } });\nexport = m;\n",
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
  check('AuthError, ConfigError and AuthResult pass instanceof across the ESM and CommonJS builds', () => {
    const source = `
      import { createRequire } from 'node:module';
      import * as esm from 'portcullis'; import * as esmKoa from 'portcullis/koa';
      const require = createRequire(import.meta.url);
      const cjs = require('portcullis'); const cjsExpress = require('portcullis/express');
      const assert = (ok, what) => { if (!ok) throw new Error(what); };
      assert(esm.AuthError !== cjs.AuthError, 'one class: the test would prove nothing');
      assert(new cjs.AuthError(401, 'invalid_token', 'x') instanceof esm.AuthError, 'require -> import');
      assert(new esm.AuthError(401, 'invalid_token', 'x') instanceof cjs.AuthError, 'import -> require');
      assert(new cjsExpress.AuthError(403, 'insufficient_scope', 'x') instanceof esmKoa.AuthError, 'express cjs -> koa esm');
      let thrown;
      try { cjsExpress.jwtAuth({}); } catch (error) { thrown = error; }
      assert(thrown instanceof esm.ConfigError && thrown instanceof esmKoa.ConfigError, 'ConfigError from a CommonJS adapter');
      assert(!(thrown instanceof esm.AuthError), 'a ConfigError is no AuthError');
      assert(!(new Error('x') instanceof cjs.AuthError) && !({} instanceof esm.AuthError) && !(null instanceof esm.AuthError), 'plain values');
      class Mine extends esm.AuthError {}
      assert(new Mine(401, 'invalid_token', 'x') instanceof cjs.AuthError, 'a subclass is an AuthError');
      assert(!(new esm.AuthError(401, 'invalid_token', 'x') instanceof Mine), 'an AuthError is not a subclass');
      assert(esm.AuthResult.ok({ subject: 'a' }) instanceof cjs.AuthResult, 'AuthResult: import -> require');
      assert(!({ ok: true } instanceof esm.AuthResult), 'a plain object is no AuthResult');
      // A provider written against the ESM build, under the CommonJS customAuth: accepted.
      const express = require('express');
      const app = express();
      app.use(cjsExpress.customAuth({ authenticate: (c) => (c === 'ok' ? esm.AuthResult.ok({ subject: 'ali' }) : esm.AuthResult.denied()) }));
      app.get('/', (req, res) => res.json(req.auth));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((done) => server.once('listening', done));
      const answer = await fetch('http://127.0.0.1:' + server.address().port + '/', { headers: { authorization: 'Bearer ok' } });
      server.close();
      assert(answer.status === 200 && (await answer.json()).subject === 'ali', 'an ESM AuthResult under the CommonJS customAuth');`;
    run('node', ['--input-type=module', '-e', source], consumer);
  });

  const tsc = (cwd, compilerOptions, files) => {
    writeFileSync(join(cwd, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
    return run('node', [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], cwd);
  };
  const strict = { strict: true, noEmit: true, types: ['node'] };
  const nodenext = { ...strict, module: 'nodenext', moduleResolution: 'nodenext' };
  // skipLibCheck: @types/koa 3 and 2 themselves fail a full check beside koa 3's own
  // content-disposition; our own declarations are checked in full by the cases below.
  for (const [name, folder] of [
    ['@types/express 5, @types/koa 3', consumer],
    ['@types/express 4, @types/koa 2', legacy],
  ]) {
    check(
      `types (${name}): inline middleware keeps req.query, Koa ctx.state.auth, declared claims, method`,
      () => {
        tsc(folder, { ...nodenext, skipLibCheck: true }, [
          'express-types.mts',
          'koa-types.mts',
          'koa-cjs.cts',
        ]);
      },
    );
  }
  check('types: portcullis/express/coexist beside express-oauth2-jwt-bearer (skipLibCheck off)', () => {
    tsc(consumer, { ...nodenext, skipLibCheck: false }, ['coexist.mts']);
  });
  check('types: portcullis/express beside express-oauth2-jwt-bearer is the conflict coexist avoids', () => {
    writeFileSync(
      join(consumer, 'conflict.mts'),
      "import 'express-oauth2-jwt-bearer';\nimport 'portcullis/express';\n",
    );
    let output = '';
    try {
      tsc(consumer, { ...nodenext, skipLibCheck: false }, ['conflict.mts']);
    } catch (error) {
      output = String(error.stdout);
    }
    if (!output.includes('TS2717'))
      throw new Error(`expected the two req.auth declarations to clash:\n${output}`);
  });
  check('types: module commonjs (moduleResolution node10) finds every entry point', () => {
    tsc(consumer, { ...strict, module: 'commonjs', esModuleInterop: true, skipLibCheck: true }, [
      'node10.ts',
    ]);
  });
  check('editor hovers: the factories TSDoc (written once) on calls from both adapters', () => {
    writeFileSync(
      join(consumer, 'hover.mts'),
      "import { jwtAuth } from 'portcullis/express';\nimport { requireScopes } from 'portcullis/koa';\njwtAuth({ issuer: 'x' });\nrequireScopes('read', { delegateErrors: true });\n",
    );
    // The TypeScript language service, as an editor asks it: quick info on each call.
    const source = `
      const ts = require(${JSON.stringify(join(root, 'node_modules/typescript'))});
      const fs = require('node:fs');
      const file = ${JSON.stringify(join(consumer, 'hover.mts'))};
      const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, types: [] };
      const service = ts.createLanguageService({
        getScriptFileNames: () => [file], getScriptVersion: () => '1', getCurrentDirectory: () => ${JSON.stringify(consumer)},
        getScriptSnapshot: (name) => fs.existsSync(name) ? ts.ScriptSnapshot.fromString(fs.readFileSync(name, 'utf8')) : undefined,
        getCompilationSettings: () => options, getDefaultLibFileName: ts.getDefaultLibFilePath,
        fileExists: ts.sys.fileExists, readFile: ts.sys.readFile, readDirectory: ts.sys.readDirectory,
        directoryExists: ts.sys.directoryExists, getDirectories: ts.sys.getDirectories, realpath: ts.sys.realpath,
      });
      const text = fs.readFileSync(file, 'utf8');
      for (const [call, words] of [['jwtAuth({', 'Verifies JWTs'], ['requireScopes(', 'insufficient_scope']]) {
        const info = service.getQuickInfoAtPosition(file, text.indexOf(call) + 1);
        const doc = ts.displayPartsToString(info?.documentation ?? []);
        if (!doc.includes(words) || !info.tags?.some((tag) => tag.name === 'example')) {
          throw new Error(call + ' shows no documentation: ' + JSON.stringify(doc));
        }
      }`;
    run('node', ['-e', source], consumer);
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(`package: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
