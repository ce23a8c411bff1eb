import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, ROUTES, startDemo } from '../examples/demo.js';

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
    expect(lines).toHaveLength(5);
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
    expect(res.body.headers.authorization).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toContain(demo.token);
  });

  it('takes the token from the query on the EventSource route and hides it from the app', async () => {
    const res = await request(base()).get(`${ROUTES.sse}?access_token=${demo.token}&x=1`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ gateway, subject: 'demo-user', urlSeenByApp: `${ROUTES.sse}?x=1` });
  });

  it('answers 401 with a Bearer challenge without a token', async () => {
    const res = await request(base()).get(ROUTES.me);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
  });
});
