/** The path of a request target, without query or fragment. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * The request target as the client sent it, path and query. `host.path` is the full path
 * (Express and Koa `originalUrl`), but under a mount (Express `app.use('/api', mw)`,
 * koa-mount) Node's `message.url` is relative to the mount: the full path is joined with the
 * query so the two always agree.
 */
export function fullTarget(path: string, url: string | undefined): string {
  const target = url ?? '/';
  const query = target.indexOf('?');
  return query === -1 ? path : `${path}${target.slice(query)}`;
}
