import type { ServerResponse } from 'node:http';
import type { AuthErrorCode } from '../src/refusals.js';

/**
 * A portcullis middleware mounted on the other framework: an Express middleware called by Koa
 * as `(ctx, next)`, or a Koa middleware called by Express as `(req, res, next)`. Either way its
 * second argument is not the function it expects (Koa's `next` lands on Express's `res`, and
 * Express's `next` is missing), which would be a bare `next is not a function` and a 500. This
 * answers the request instead with a 500 that names the fix, and logs the same sentence once.
 */

type Framework = 'express' | 'koa';

/** The stable `error` code of the answer. */
export const WRONG_ADAPTER: AuthErrorCode = 'wrong_adapter';

/** The second argument a framework passes, when it is not the `next` function we need. */
export function isWrongAdapterCall(next: unknown): boolean {
  return typeof next !== 'function';
}

function sentence(mine: Framework): string {
  const other: Framework = mine === 'express' ? 'koa' : 'express';
  const names = { express: 'Express', koa: 'Koa' };
  return (
    `this is the portcullis/${mine} middleware, called as ${names[other]} middleware: ` +
    `on ${names[other]} import it from portcullis/${other}`
  );
}

const logged = new WeakSet<object>();

function logOnce(middleware: object, text: string): void {
  if (logged.has(middleware)) return;
  logged.add(middleware);
  console.error(`[portcullis] ${text}`);
}

const BODY_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function body(text: string): string {
  return JSON.stringify({ error: WRONG_ADAPTER, error_description: `portcullis: ${text}` });
}

/** The Express middleware `middleware` was called by Koa with `(ctx, next)`: answer through ctx. */
export function expressOnKoa(middleware: object, ctx: unknown): void {
  const koa = ctx as { status?: unknown; body?: unknown; set?: unknown; req?: unknown } | null;
  if (typeof koa !== 'object' || koa === null || typeof koa.set !== 'function' || koa.req === undefined) {
    // Not Koa either: called by hand, or by a server that passes no `next`.
    throw new TypeError(
      'portcullis: the portcullis/express middleware is called as (req, res, next): `next` is missing',
    );
  }
  const text = sentence('express');
  logOnce(middleware, text);
  koa.status = 500;
  (koa.set as (headers: Record<string, string>) => void)(BODY_HEADERS);
  koa.body = body(text);
}

/** The Koa middleware `middleware` was called by Express with `(req, res, next)`: answer on res. */
export function koaOnExpress(middleware: object, res: unknown): void {
  const response = res as ServerResponse | null;
  if (typeof response !== 'object' || response === null || typeof response.setHeader !== 'function') {
    // Not Express either: called by hand, or by something that passes no `next`.
    throw new TypeError(
      'portcullis: the portcullis/koa middleware is called as (ctx, next): `next` is missing',
    );
  }
  const text = sentence('koa');
  logOnce(middleware, text);
  if (response.headersSent) {
    response.end();
    return;
  }
  response.statusCode = 500;
  for (const [name, value] of Object.entries(BODY_HEADERS)) response.setHeader(name, value);
  response.end(body(text));
}
