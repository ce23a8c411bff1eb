import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as forExpress from '../adapters/express/index.js';
import * as forKoa from '../adapters/koa/index.js';
import { AuthError, ConfigError } from '../src/errors.js';
import type { Echo, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { rawGet } from './support/raw-request.js';

// Issue 12, "what users reach for": delegateErrors on every step (requireScopes and
// forwardIdentity included), and a middleware mounted on the other framework answering what
// is wrong instead of `next is not a function`. Both adapters, real apps, real requests.

const all = await frameworks();

const READER_KEY = 'ak_reader_5d1c0b9a8f7e6d5c4b3a2918';
const X_API_KEY = { header: { name: 'x-api-key' } } as const;
const readerKeys = { keys: [{ name: 'reader', key: READER_KEY, scopes: ['read'] }], location: X_API_KEY };

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe.each(all)('delegateErrors on every step ($name)', (framework) => {
  const lib = framework.lib;
  const serve = async (middlewares: unknown[], errorHandler = false) => {
    const server = await framework.serve(middlewares, { errorHandler });
    servers.push(server);
    return server;
  };

  it('requireScopes(...scopes, { delegateErrors: true }) hands the 403 to the app', async () => {
    const server = await serve(
      [lib.apiKeyAuth(readerKeys), lib.requireScopes('read', 'write', { delegateErrors: true })],
      true,
    );
    const res = await request(server.url).get('/').set('x-api-key', READER_KEY);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ handledBy: 'app', code: 'insufficient_scope' });
  });

  it('requireScopes(...scopes, { delegateErrors: true }) hands the 401 without an identity to the app', async () => {
    const server = await serve([lib.requireScopes('read', { delegateErrors: true })], true);
    const res = await request(server.url).get('/');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ handledBy: 'app' });
  });

  it('requireScopes(...scopes) without options still answers itself, and lets a granted scope through', async () => {
    const server = await serve([lib.apiKeyAuth(readerKeys), lib.requireScopes('read', 'write')], true);
    const refused = await request(server.url).get('/').set('x-api-key', READER_KEY);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'insufficient_scope' });
    const through = await serve([lib.apiKeyAuth(readerKeys), lib.requireScopes('read')]);
    const res = await request(through.url).get('/').set('x-api-key', READER_KEY);
    expect(res.status).toBe(200);
    expect((res.body as Echo).auth?.subject).toBe('reader');
  });

  it('requireScopes with { delegateErrors: false } answers itself', async () => {
    const server = await serve(
      [lib.apiKeyAuth(readerKeys), lib.requireScopes('write', { delegateErrors: false })],
      true,
    );
    const res = await request(server.url).get('/').set('x-api-key', READER_KEY);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'insufficient_scope' });
  });

  it('refuses an unknown key or a non-boolean in requireScopes options with a ConfigError naming it', () => {
    const unknown = (() => {
      try {
        lib.requireScopes('read', { delegateError: true } as never);
      } catch (error) {
        return error;
      }
    })();
    expect(unknown).toBeInstanceOf(ConfigError);
    expect((unknown as ConfigError).field).toBe('delegateError');
    expect(() => lib.requireScopes('read', { delegateErrors: 'yes' } as never)).toThrow(/`delegateErrors`/);
    expect(() => lib.requireScopes({ delegateErrors: true } as never)).toThrow(/at least one scope/);
  });

  it('forwardIdentity({ headers, delegateErrors: true }) hands its 400 to the app', async () => {
    const forward = lib.forwardIdentity({
      headers: { 'x-forwarded-team': 'request.headers["x-team"]' },
      delegateErrors: true,
    });
    const server = await serve([lib.apiKeyAuth(readerKeys), forward], true);
    const res = await rawGet(`${server.url}/`, { 'x-api-key': READER_KEY, 'x-team': ['a', 'b'] });
    // Two x-team headers: the forwarded value would be one copy while the upstream may read the other.
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ handledBy: 'app', code: 'invalid_request' });
  });

  it('forwardIdentity({ headers }) without delegateErrors answers itself and forwards the identity', async () => {
    const forward = lib.forwardIdentity({
      headers: { 'x-user': 'auth.subject', 'x-team': 'request.headers["x-team"]' },
    });
    const server = await serve([lib.apiKeyAuth(readerKeys), forward], true);
    const refused = await rawGet(`${server.url}/`, { 'x-api-key': READER_KEY, 'x-team': ['a', 'b'] });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_request' });
    const res = await request(server.url).get('/').set('x-api-key', READER_KEY).set('x-team', 'a');
    expect(res.status).toBe(200);
    expect((res.body as Echo).headers['x-user']).toBe('reader');
  });

  it('refuses a non-boolean delegateErrors in forwardIdentity, and still names unknown keys', () => {
    expect(() =>
      lib.forwardIdentity({ headers: { 'x-user': 'auth.subject' }, delegateErrors: 1 } as never),
    ).toThrow(ConfigError);
    expect(() => lib.forwardIdentity({ headers: { 'x-user': 'auth.subject' }, claims: {} } as never)).toThrow(
      /`claims`/,
    );
  });
});

/** A raw app (no echo, no error handler of ours) on loopback. */
async function listen(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('a middleware mounted on the other framework', () => {
  const open: Server[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(open.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  const wrongOnKoa: [string, () => unknown][] = [
    [
      'jwtAuth',
      () => forExpress.jwtAuth({ issuer: 'https://issuer.example', jwks: { inline: { keys: [] } } }),
    ],
    ['requireScopes', () => forExpress.requireScopes('read')],
    [
      'backendAuth',
      () => forExpress.backendAuth({ openai: { apiKey: 'sk-test-key' }, upstream: 'https://api.openai.com' }),
    ],
  ];
  it.each(wrongOnKoa)(
    'portcullis/express %s on Koa: a 500 naming the fix, logged once, no stack',
    async (_, make) => {
      const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
      const app = new Koa();
      app.use(make() as Koa.Middleware);
      app.use((ctx) => {
        ctx.body = 'reached the app';
      });
      const { url, server } = await listen(app.callback());
      open.push(server);
      for (let i = 0; i < 2; i++) {
        const res = await request(url).get('/');
        expect(res.status).toBe(500);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.body).toEqual({
          error: 'wrong_adapter',
          error_description:
            'portcullis: this is the portcullis/express middleware, called as Koa middleware: on Koa import it from portcullis/koa',
        });
        expect(res.text).not.toMatch(/ at |\.ts:|\.js:/);
      }
      expect(logged).toHaveBeenCalledTimes(1);
      expect(String(logged.mock.calls[0]?.[0])).toContain('on Koa import it from portcullis/koa');
    },
  );

  const wrongOnExpress: [string, () => unknown][] = [
    ['jwtAuth', () => forKoa.jwtAuth({ issuer: 'https://issuer.example', jwks: { inline: { keys: [] } } })],
    ['requireScopes', () => forKoa.requireScopes('read')],
    [
      'backendAuth',
      () => forKoa.backendAuth({ openai: { apiKey: 'sk-test-key' }, upstream: 'https://api.openai.com' }),
    ],
  ];
  it.each(wrongOnExpress)(
    'portcullis/koa %s on Express: a 500 naming the fix, logged once, no stack',
    async (_, make) => {
      const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
      const app = express();
      app.use(make() as express.RequestHandler);
      app.use((_req, res) => {
        res.send('reached the app');
      });
      const { url, server } = await listen(app);
      open.push(server);
      for (let i = 0; i < 2; i++) {
        const res = await request(url).get('/');
        expect(res.status).toBe(500);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.body).toEqual({
          error: 'wrong_adapter',
          error_description:
            'portcullis: this is the portcullis/koa middleware, called as Express middleware: on Express import it from portcullis/express',
        });
        expect(res.text).not.toMatch(/ at |\.ts:|\.js:/);
      }
      expect(logged).toHaveBeenCalledTimes(1);
      expect(String(logged.mock.calls[0]?.[0])).toContain('on Express import it from portcullis/express');
    },
  );
});

describe('a middleware called without next, by neither framework', () => {
  it('throws a TypeError that says what is missing', async () => {
    const { IncomingMessage, ServerResponse } = await import('node:http');
    const { Socket } = await import('node:net');
    const req = new IncomingMessage(new Socket());
    const res = new ServerResponse(req);
    const expressStep = forExpress.requireScopes('read') as unknown as (req: unknown, res: unknown) => void;
    expect(() => expressStep(req, res)).toThrow(
      /portcullis\/express middleware is called as \(req, res, next\): `next` is missing/,
    );
    const koaStep = forKoa.requireScopes('read') as unknown as (ctx: unknown) => Promise<void>;
    await expect(koaStep({ state: {} })).rejects.toThrow(
      /portcullis\/koa middleware is called as \(ctx, next\): `next` is missing/,
    );
  });
});

describe('AuthError and ConfigError instanceof (the brand every copy shares)', () => {
  it('recognises an error of another copy of the class, and keeps subclasses apart', () => {
    // What another build (CommonJS beside ESM, a second bundle) makes: same brand, other class.
    const foreign = Object.create(
      Object.defineProperty({}, Symbol.for('portcullis.AuthError'), { value: true }),
    ) as object;
    expect(foreign instanceof AuthError).toBe(true);
    expect(foreign instanceof ConfigError).toBe(false);
    expect(new ConfigError('x', 'y') instanceof ConfigError).toBe(true);
    expect(new ConfigError('x', 'y') instanceof AuthError).toBe(false);
    expect(new Error('x') instanceof AuthError).toBe(false);
    class Special extends AuthError {}
    expect(new Special(401, 'invalid_token', 'x') instanceof AuthError).toBe(true);
    expect(new AuthError(401, 'invalid_token', 'x') instanceof Special).toBe(false);
    // The brand is on the prototype: nothing enumerable, nothing in JSON or a spread.
    expect(Object.getOwnPropertySymbols(new AuthError(401, 'invalid_token', 'x'))).toEqual([]);
  });
});

describe.each(all)('authOf ($name)', (framework) => {
  it('returns the identity portcullis attached', async () => {
    const lib = framework.lib;
    const seen: unknown[] = [];
    const probe = framework.name.startsWith('express')
      ? (req: unknown, _res: unknown, next: () => void) => {
          seen.push(forExpress.authOf(req as never)?.subject ?? null);
          next();
        }
      : async (ctx: unknown, next: () => Promise<void>) => {
          seen.push(forKoa.authOf(ctx as never)?.subject ?? null);
          await next();
        };
    const server = await framework.serve([lib.apiKeyAuth({ ...readerKeys, mode: 'optional' }), probe]);
    servers.push(server);
    await request(server.url).get('/').set('x-api-key', READER_KEY).expect(200);
    await request(server.url).get('/').expect(200);
    expect(seen).toEqual(['reader', null]);
  });
});
