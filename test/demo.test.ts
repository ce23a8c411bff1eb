import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, ROUTES, startDemo } from '../examples/demo.js';
import { SHARED_ROUTES } from '../examples/shared-instances.js';
import { frameworks } from './support/frameworks.js';
import { closeServer, listenOnLoopback } from './support/loopback.js';
import { headerLines, rawGet } from './support/raw-request.js';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { eventually } from './support/wait.js';

// The demo `npm start` runs, driven the way its printed curl lines drive it.
let demo: Demo;
// What `npm start` prints as [portcullis debug] lines: each refusal's reason.
const debugLines: string[] = [];
beforeAll(async () => {
  const logger = { warn: () => {}, debug: (line: string) => debugLines.push(line) };
  demo = await startDemo({ express: 0, koa: 0, issuer: 0, upstream: 0 }, { logger });
});
afterAll(async () => {
  await demo.close();
});

describe.each(['express', 'koa'] as const)('demo gateway (%s)', (gateway) => {
  const base = () => demo.urls[gateway];

  it('prints curl lines for every route', () => {
    const lines = demo.curls().filter((line) => line.includes(base()));
    expect(lines).toHaveLength(14);
  });

  it('serves everything under the public prefix /docs/* without a token, and nothing beside it', async () => {
    const docs = await request(base()).get(ROUTES.docs);
    expect(docs.status).toBe(200);
    expect(docs.body.openapi).toBe('3.1.0');
    // A sibling of the prefix, and a dot segment out of it, are not public.
    expect((await request(base()).get('/docsx')).status).toBe(401);
    expect((await request(base()).get('/docs%2F..%2Fme')).status).toBe(400);
  });

  it('lets a CORS preflight through without a token; the GET it asks for still needs one', async () => {
    const preflight = await request(base())
      .options(ROUTES.me)
      .set('origin', 'https://app.example')
      .set('access-control-request-method', 'GET');
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    expect((await request(base()).get(ROUTES.me).set('origin', 'https://app.example')).status).toBe(401);
  });

  it('logs the reason of a refusal at debug level, never the credential', async () => {
    debugLines.length = 0;
    const res = await request(base()).get(ROUTES.me).set('Authorization', 'Bearer not.a.token');
    expect(res.status).toBe(401);
    expect(debugLines.some((line) => line.startsWith('jwt: refused with 401 invalid_token ('))).toBe(true);
    expect(debugLines.join('\n')).not.toContain('not.a.token');
  });

  it('serves the public health check without a token', async () => {
    const res = await request(base()).get(ROUTES.health);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it('shows the identity for a token from the embedded issuer', async () => {
    const res = await request(base()).get(ROUTES.me).set('Authorization', `Bearer ${demo.token}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ gateway, auth: { subject: 'demo-user', method: 'jwt' } });
  });

  it('forwards to the upstream without the client token', async () => {
    const res = await request(base()).get(ROUTES.api).set('Authorization', `Bearer ${demo.token}`);
    expect(res.status).toBe(200);
    expect(res.body.upstream).toBe('echo');
    expect(res.body.url).toBe('/api/hello');
    // The upstream answers only requests that carry its own key (backendAuth key).
    expect(res.body.headers.authorization).toBe(`Bearer ${demo.credentials.upstreamKey}`);
    expect(JSON.stringify(res.body)).not.toContain(demo.token);
  });

  it('forwards the validated token on the passthrough route, and nothing without one', async () => {
    const res = await request(base()).get(ROUTES.passthrough).set('Authorization', `Bearer ${demo.token}`);
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(ROUTES.passthrough);
    expect(res.body.headers.authorization).toBe(`Bearer ${demo.token}`);
    expect((await request(base()).get(ROUTES.passthrough)).status).toBe(401);
  });

  it('takes the token from the query on the EventSource route and hides it from the app', async () => {
    const res = await request(base()).get(`${ROUTES.sse}?access_token=${demo.token}&x=1`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ gateway, subject: 'demo-user', urlSeenByApp: `${ROUTES.sse}?x=1` });
  });

  it('lets a Basic user in on the basicAuth route, and only with the right password', async () => {
    const { username, password } = demo.credentials.basicUser;
    const res = await request(base()).get(ROUTES.basic).auth(username, password);
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatchObject({ subject: username, method: 'basic', basicAuth: { username } });
    const apr1 = await request(base()).get(ROUTES.basic).auth('user', 'password');
    expect(apr1.status).toBe(200);
    const wrong = await request(base()).get(ROUTES.basic).auth(username, 'not-it');
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="portcullis demo", charset="UTF-8"');
  });

  it('takes the API key from x-api-key on the apiKeyAuth route', async () => {
    const res = await request(base()).get(ROUTES.apiKey).set('x-api-key', demo.credentials.apiKey);
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatchObject({ subject: 'demo-client', method: 'apiKey', scopes: ['chat:read'] });
    expect(JSON.stringify(res.body)).not.toContain(demo.credentials.apiKey);
    expect((await request(base()).get(ROUTES.apiKey).set('x-api-key', 'pk_demo_wrong')).status).toBe(401);
  });

  it('accepts an API key or a JWT as Bearer on the anyAuth route', async () => {
    const key = await request(base())
      .get(ROUTES.any)
      .set('Authorization', `Bearer ${demo.credentials.apiKey}`);
    expect(key.status).toBe(200);
    expect(key.body.auth.method).toBe('apiKey');
    const jwt = await request(base()).get(ROUTES.any).set('Authorization', `Bearer ${demo.token}`);
    expect(jwt.status).toBe(200);
    expect(jwt.body.auth).toMatchObject({ method: 'jwt', subject: 'demo-user' });
    const none = await request(base()).get(ROUTES.any);
    expect(none.status).toBe(401);
  });

  it('lets only the admins group into /admin (authorize)', async () => {
    const user = await request(base()).get(ROUTES.admin).set('Authorization', `Bearer ${demo.token}`);
    expect(user.status).toBe(403);
    expect(user.body.error).toBe('access_denied');
    const admin = await request(base()).get(ROUTES.admin).set('Authorization', `Bearer ${demo.adminToken}`);
    expect(admin.status).toBe(200);
    expect(admin.body.auth.subject).toBe('demo-admin');
  });

  it('forwards identity headers the client cannot spoof (forwardIdentity)', async () => {
    const res = await request(base())
      .get(ROUTES.api)
      .set('Authorization', `Bearer ${demo.token}`)
      .set('x-user-id', 'someone-else');
    expect(res.status).toBe(200);
    expect(res.body.headers['x-user-id']).toBe('demo-user');
    expect(res.body.headers['x-auth-method']).toBe('jwt');
  });

  it('answers 401 with a Bearer challenge without a token', async () => {
    const res = await request(base()).get(ROUTES.me);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
  });
});

// `npm start` for real, as a user runs it: killing the npm process must free the ports,
// whatever npm dies of (it forwards SIGINT and SIGTERM; SIGHUP and SIGKILL it does not).
describe('npm start', () => {
  const ROOT = fileURLToPath(new URL('..', import.meta.url));
  const started: ChildProcess[] = [];
  afterEach(() => {
    // Only what this test started, by its own pid; a demo left running would hold its ports.
    for (const child of started.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** Runs `npm start` on four free ports and resolves with them once the demo says it is up. */
  async function npmStart(
    redisUrl = '',
  ): Promise<{ npm: ChildProcess; ports: number[]; output: () => string }> {
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      // REDIS_URL emptied unless given: the demo without Redis, whatever the caller's environment says.
      env: { ...process.env, DEMO_PORT: '0', REDIS_URL: redisUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(npm);
    let output = '';
    npm.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    npm.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const up = await eventually(() => output.includes('Ctrl-C stops the demo.') || npm.exitCode !== null, {
      timeoutMs: 30_000,
    });
    expect(up && npm.exitCode === null, output).toBe(true);
    const ports = [...output.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((match) => Number(match[1]));
    const distinct = [...new Set(ports)];
    // Five servers (the gateways, the issuer, the upstream, the MCP routes' authorization
    // server), and the two instances on Redis when REDIS_URL is set.
    expect(distinct).toHaveLength(redisUrl === '' ? 5 : 7);
    // The MCP lines for both gateways (test/demo-mcp.test.ts runs them).
    const clientCommands = /^npx tsx examples\/mcp-client\.ts http:\/\/127\.0\.0\.1:\d+\/mcp$/gm;
    expect(output.match(clientCommands)).toHaveLength(2);
    return { npm, ports: distinct, output: () => output };
  }

  const accepts = (port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });

  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server: Server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL'] as const)(
    'killing npm with %s frees every port of the demo',
    async (signal) => {
      const { npm, ports } = await npmStart();
      for (const port of ports) expect(await accepts(port), `port ${port} before the kill`).toBe(true);
      const exited = new Promise((resolve) => npm.once('exit', resolve));
      npm.kill(signal);
      await exited;
      const freed = await eventually(async () => !(await Promise.all(ports.map(accepts))).some(Boolean), {
        timeoutMs: 15_000,
        stepMs: 100,
      });
      expect(freed, `ports ${ports.join(', ')} still accept connections after ${signal}`).toBe(true);
      for (const port of ports) expect(await bindable(port), `port ${port} is free again`).toBe(true);
    },
    60_000,
  );

  it('with REDIS_URL, prints the curl pair on two more ports, which run it as printed', async () => {
    const redis = await startRedis();
    try {
      const { npm, ports, output } = await npmStart(redis.url);
      const text = output();
      const value = (name: string) => text.match(new RegExp(`^${name}=(.+)$`, 'm'))?.[1] ?? '';
      // The block after the instances' heading (the main gateways have a /keys/me line too).
      const curls = text
        .slice(text.indexOf('Two more instances'))
        .split('\n')
        .filter((line) => line.startsWith('curl'));
      expect(curls).toHaveLength(3);
      // The printed commands, run with the printed variables (no shell: the same requests).
      const url = (line: string) => line.match(/http:\/\/127\.0\.0\.1:\d+[^\s"]*/)?.[0] ?? '';
      const [check, revoke] = [url(curls[0] ?? ''), url(curls[1] ?? '')];
      expect(ports.map(String)).toContain(new URL(check).port);
      expect(ports.map(String)).toContain(new URL(revoke).port);
      expect(new URL(check).port).not.toBe(new URL(revoke).port);
      const key = { 'x-api-key': value('API_KEY') };
      expect((await fetch(check, { headers: key })).status).toBe(200);
      const revoked = await fetch(revoke, {
        method: 'POST',
        headers: { authorization: `Bearer ${value('ADMIN_TOKEN')}` },
      });
      expect(revoked.status).toBe(200);
      expect(await eventually(async () => (await fetch(check, { headers: key })).status === 401)).toBe(true);
      const exited = new Promise((resolve) => npm.once('exit', resolve));
      npm.kill('SIGTERM');
      await exited;
    } finally {
      await redis.stop();
    }
  }, 60_000);
});

// The forwarders the README shows (Koa: examples/koa-fetch-forwarder.ts; Express:
// http-proxy-middleware) in front of a real upstream that sets two cookies: each arrives as
// its own Set-Cookie line, as sent (fetch's Headers joins all other fields with ", ").
describe.each(await frameworks())(
  'the forwarder on $name keeps every Set-Cookie of the upstream',
  (framework) => {
    const COOKIES = [
      'session=abc123; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/; HttpOnly',
      'theme=dark; Path=/',
    ];

    it('two cookies from the upstream are two lines to the client, unjoined', async () => {
      const upstream = createServer((_req, res) => {
        res.setHeader('set-cookie', COOKIES);
        res.setHeader('x-upstream', 'yes');
        res.end('ok');
      });
      await listenOnLoopback(upstream);
      const { port } = upstream.address() as { port: number };
      const key = framework.lib.apiKeyAuth({
        keys: [{ name: 'ops', key: 'ak_demo_forwarder_0123456789abcdef' }],
      });
      const gateway = await framework.serve([key], { forwardTo: `http://127.0.0.1:${port}` });
      try {
        const res = await rawGet(`${gateway.url}/anything`, {
          authorization: 'Bearer ak_demo_forwarder_0123456789abcdef',
        });
        expect(res.status).toBe(200);
        expect(res.body).toBe('ok');
        expect(res.headers['x-upstream']).toBe('yes');
        expect(headerLines(res.rawHeaders, 'set-cookie')).toEqual(COOKIES);
      } finally {
        await gateway.close();
        await key.close();
        await closeServer(upstream);
      }
    });
  },
);

// The demo with REDIS_URL: two more instances (A on Express, B on Koa) share their API keys
// through a real redis-server; a key revoked through one is refused by the other. No skip: CI
// installs redis-server (.ci/run), and a missing binary fails here.
describe('the demo with a Redis URL', () => {
  let redis: RedisServer;
  let shared: Demo;
  beforeAll(async () => {
    redis = await startRedis();
    shared = await startDemo(
      { express: 0, koa: 0, issuer: 0, upstream: 0, instanceA: 0, instanceB: 0 },
      { redisUrl: redis.url },
    );
  });
  afterAll(async () => {
    await shared?.close();
    await redis?.stop();
  });

  const instances = () => {
    if (shared.shared === undefined) throw new Error('the demo started without its Redis instances');
    return shared.shared;
  };
  const keyCheck = (base: string) =>
    request(base).get(SHARED_ROUTES.key).set('x-api-key', shared.credentials.apiKey);
  const revoke = (base: string, token?: string) => {
    const call = request(base).post(`${SHARED_ROUTES.revoke}?name=demo-client`);
    return token === undefined ? call : call.set('Authorization', `Bearer ${token}`);
  };

  it('prints the curl pair: a check on B, the revocation through A, the check on B again', () => {
    const { urls } = instances();
    const lines = instances().curls();
    expect(lines.filter((line) => line.startsWith('curl'))).toEqual([
      `curl -s ${urls.b}${SHARED_ROUTES.key} -H "x-api-key: $API_KEY"`,
      `curl -s -X POST "${urls.a}${SHARED_ROUTES.revoke}?name=demo-client" -H "Authorization: Bearer $ADMIN_TOKEN"`,
      `curl -s ${urls.b}${SHARED_ROUTES.key} -H "x-api-key: $API_KEY"`,
    ]);
  });

  it('lets only an admin token revoke (401 without a token, 403 for a user)', async () => {
    const { urls } = instances();
    for (const base of [urls.a, urls.b]) {
      expect((await revoke(base)).status).toBe(401);
      expect((await revoke(base, shared.token)).status).toBe(403);
      expect((await keyCheck(base)).status).toBe(200);
    }
  });

  it('a key revoked through A (Express) is refused by B (Koa), and by A', async () => {
    const { urls } = instances();
    const before = await keyCheck(urls.b);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      instance: 'B (koa)',
      auth: { subject: 'demo-client', method: 'apiKey' },
    });
    const revoked = await revoke(urls.a, shared.adminToken);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ instance: 'A (express)', name: 'demo-client', revoked: true });
    // A applied its own write before answering; B learns it from Redis.
    expect((await keyCheck(urls.a)).status).toBe(401);
    expect(await eventually(async () => (await keyCheck(urls.b)).status === 401)).toBe(true);
    const after = await keyCheck(urls.b);
    expect(after.status).toBe(401);
    expect(JSON.stringify(after.body)).not.toContain(shared.credentials.apiKey);
  });

  it('a key revoked through B (Koa) is refused by A (Express), on a demo of its own', async () => {
    const other = await startDemo(
      { express: 0, koa: 0, issuer: 0, upstream: 0, instanceA: 0, instanceB: 0 },
      { redisUrl: redis.url },
    );
    try {
      const urls = other.shared?.urls;
      if (urls === undefined) throw new Error('no Redis instances');
      const check = (base: string) =>
        request(base).get(SHARED_ROUTES.key).set('x-api-key', other.credentials.apiKey);
      expect((await check(urls.a)).status).toBe(200);
      const revoked = await request(urls.b)
        .post(`${SHARED_ROUTES.revoke}?name=demo-client`)
        .set('Authorization', `Bearer ${other.adminToken}`);
      expect(revoked.status).toBe(200);
      expect(await eventually(async () => (await check(urls.a)).status === 401)).toBe(true);
      // The first demo's key (its own Redis prefix) is untouched by this one.
      expect((await keyCheck(instances().urls.a)).status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('deletes its own Redis keys on close, nothing else', async () => {
    const other = await startDemo(
      { express: 0, koa: 0, issuer: 0, upstream: 0, instanceA: 0, instanceB: 0 },
      { redisUrl: redis.url },
    );
    const prefix = other.shared?.prefix ?? '';
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      await request(other.shared?.urls.a ?? '')
        .post(`${SHARED_ROUTES.revoke}?name=demo-client`)
        .set('Authorization', `Bearer ${other.adminToken}`);
      expect(await client.keys(`${prefix}:*`)).not.toEqual([]);
      await other.close();
      expect(await client.keys(`${prefix}:*`)).toEqual([]);
      expect(await client.keys(`${instances().prefix}:*`)).not.toEqual([]);
    } finally {
      await client.quit();
    }
  });
});
