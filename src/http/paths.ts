/** The path of a request target, without query or fragment. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * The request target as rules see it: `path` (the canonical full path, see canonical-path.ts)
 * joined with the query as the client sent it. Under a mount (Express `app.use('/api', mw)`,
 * koa-mount) Node's `message.url` is relative to the mount, so only its query is taken.
 */
export function fullTarget(path: string, url: string | undefined): string {
  const target = url ?? '/';
  const query = target.indexOf('?');
  return query === -1 ? path : `${path}${target.slice(query)}`;
}
