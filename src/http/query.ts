/** The raw query string of a request target, without the leading '?'; '' when none. */
export function queryString(url: string): string {
  const mark = url.indexOf('?');
  if (mark === -1) return '';
  const hash = url.indexOf('#', mark);
  return hash === -1 ? url.slice(mark + 1) : url.slice(mark + 1, hash);
}

function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** Every value of `name` in the query of `url`, decoded, in order. */
export function queryValues(url: string, name: string): string[] {
  const query = queryString(url);
  if (query === '') return [];
  const values: string[] = [];
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    if (key !== name) continue;
    values.push(eq === -1 ? '' : (decodeComponent(pair.slice(eq + 1)) ?? ''));
  }
  return values;
}

/** All query parameters of `url` as name -> values (for rules and identity headers). */
export function parseQuery(url: string): Record<string, string[]> {
  const result: Record<string, string[]> = Object.create(null);
  const query = queryString(url);
  if (query === '') return result;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    if (key === undefined) continue;
    const value = eq === -1 ? '' : (decodeComponent(pair.slice(eq + 1)) ?? '');
    const list = result[key] ?? [];
    list.push(value);
    result[key] = list;
  }
  return result;
}

/**
 * `url` with every occurrence of the query parameter `name` removed; the other parameters
 * keep their exact bytes and order, and a query left empty loses its '?'.
 */
export function withoutQueryParameter(url: string, name: string): string {
  const mark = url.indexOf('?');
  if (mark === -1) return url;
  const hashAt = url.indexOf('#', mark);
  const end = hashAt === -1 ? url.length : hashAt;
  const kept = url
    .slice(mark + 1, end)
    .split('&')
    .filter((pair) => {
      const eq = pair.indexOf('=');
      return decodeComponent(eq === -1 ? pair : pair.slice(0, eq)) !== name;
    });
  const rest = url.slice(end);
  const query = kept.join('&');
  return query === '' ? url.slice(0, mark) + rest : `${url.slice(0, mark)}?${query}${rest}`;
}

/** `url` with the query parameter `name` set to `value`, replacing every earlier occurrence. */
export function withQueryParameter(url: string, name: string, value: string): string {
  const base = withoutQueryParameter(url, name);
  const hashAt = base.indexOf('#');
  const head = hashAt === -1 ? base : base.slice(0, hashAt);
  const tail = hashAt === -1 ? '' : base.slice(hashAt);
  const pair = `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  return `${head}${head.includes('?') ? '&' : '?'}${pair}${tail}`;
}
