import type { Framework } from './frameworks.js';

/**
 * `middleware` mounted under `prefix` as each framework mounts: an Express router's
 * `use(prefix, mw)`, or what koa-mount does (sets `ctx.path` to the rest, restores it after).
 */
export async function mountAt(framework: Framework, prefix: string, middleware: unknown): Promise<unknown> {
  if (framework.name.startsWith('express')) {
    const express = (await import('express')).default;
    const router = express.Router();
    router.use(prefix, middleware as import('express').RequestHandler);
    return router;
  }
  const koaMiddleware = middleware as (ctx: unknown, next: () => Promise<unknown>) => Promise<void>;
  return async (ctx: { path: string }, next: () => Promise<unknown>) => {
    if (!ctx.path.startsWith(`${prefix}/`)) return next();
    const full = ctx.path;
    ctx.path = full.slice(prefix.length);
    try {
      await koaMiddleware(ctx, async () => {
        ctx.path = full;
        await next();
      });
    } finally {
      ctx.path = full;
    }
  };
}
