import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Context } from 'koa';
import { forwardableHeaders } from '../src/index.js';

/**
 * A Koa forwarder on `fetch`: sends the request as the app leaves it (headers, `ctx.url`, the
 * body streamed from `ctx.req`) to `upstream`, and streams the answer back, every Set-Cookie
 * line included. Put it after `backendAuth()`; SigV4's signed body is still in `ctx.req` for
 * it to read.
 *
 * Not part of the package: code to copy into your app (change `'../src/index.js'` to
 * `'portcullis'`), and to adapt (timeouts, retries, how an unreachable upstream is answered
 * are the app's choices). The test suite runs it behind every credential kind.
 */
export function koaFetchForwarder(upstream: string) {
  const base = new URL(upstream);
  return async (ctx: Context): Promise<void> => {
    const target = new URL(base.origin);
    const query = ctx.url.indexOf('?');
    target.pathname = `${base.pathname.replace(/\/$/, '')}${query === -1 ? ctx.url : ctx.url.slice(0, query)}`;
    target.search = query === -1 ? '' : ctx.url.slice(query);
    const headers = forwardableHeaders(ctx.req.headers);
    const hasBody = ctx.method !== 'GET' && ctx.method !== 'HEAD';
    let answer: Response;
    try {
      answer = await fetch(target, {
        method: ctx.method,
        headers,
        redirect: 'manual',
        ...(hasBody ? { body: Readable.toWeb(ctx.req) as unknown as ReadableStream, duplex: 'half' } : {}),
      } as RequestInit);
    } catch {
      ctx.status = 502;
      ctx.body = { error: 'bad_gateway' };
      return;
    }
    ctx.status = answer.status;
    // Every field but Set-Cookie, as Headers joins it; Set-Cookie only as a marker here, since
    // joined cookies cannot be split again (`Expires=Wed, 21 Oct 2026 ...` holds a comma).
    const fields: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      fields[name] = name === 'set-cookie' ? '' : value;
    });
    // fetch has already decoded the body, so its content-encoding no longer applies.
    const {
      'content-encoding': _decoded,
      'set-cookie': cookies,
      ...answerHeaders
    } = forwardableHeaders(fields);
    for (const [name, value] of Object.entries(answerHeaders)) ctx.set(name, value);
    // One line per cookie, as the upstream sent them.
    if (cookies !== undefined) ctx.set('set-cookie', answer.headers.getSetCookie());
    ctx.body = answer.body === null ? '' : Readable.fromWeb(answer.body as unknown as WebReadableStream);
  };
}
