import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, ROUTES, startDemo } from '../examples/demo.js';
import { frameworks } from './support/frameworks.js';
import { closeServer, listenOnLoopback } from './support/loopback.js';
import { headerLines, rawGet } from './support/raw-request.js';
import { eventually } from './support/wait.js';

// The demo `npm start` runs, driven the way its printed curl lines drive it.
let demo: Demo;
beforeAll(async () => {
  demo = await startDemo({ express: 0, koa: 0, issuer: 0, upstream: 0 });
});
afterAll(async () => {
  await demo.close();
});

describe.each(['express', 'koa'] as const)('demo gateway (%s)', (gateway) => {
  const base = () => demo.urls[gateway];

  it('prints curl lines for every route', () => {
    const lines = demo.curls().filter((line) => line.includes(base()));
    expect(lines).toHaveLength(12);
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
  async function npmStart(): Promise<{ npm: ChildProcess; ports: number[] }> {
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, DEMO_PORT: '0' },
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
    expect(distinct).toHaveLength(4);
    return { npm, ports: distinct };
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
