import { foldedName, isVariant, type Spelling, strictDecode } from './name-spellings.js';

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

/** How the name of one `name=value` pair relates to `name` (see name-spellings.ts). */
function pairSpelling(pair: string, name: string, folded: string): Spelling {
  const eq = pair.indexOf('=');
  const sent = eq === -1 ? pair : pair.slice(0, eq);
  if (sent === name) return 'exact';
  const spaced = sent.includes('+') ? sent.replace(/\+/g, ' ') : sent;
  const decoded = strictDecode(spaced);
  if (decoded === name) return 'exact';
  return isVariant(spaced, decoded, folded) ? 'variant' : 'other';
}

/**
 * Every occurrence of the parameter `name` in the query of `url`, in order, in every spelling
 * a parser downstream reads as `name` (`name[]`, `name%5B0%5D`, `NAME`, `%6Eame`...): the
 * decoded value of an exact `name=value`, undefined for another spelling or for a value that
 * does not decode. Values are never trimmed: `key%20` is not `key`.
 */
export function queryOccurrences(url: string, name: string): (string | undefined)[] {
  const query = queryString(url);
  if (query === '') return [];
  const folded = foldedName(name);
  const found: (string | undefined)[] = [];
  for (const pair of query.split('&')) {
    const spelling = pairSpelling(pair, name, folded);
    if (spelling === 'other') continue;
    const eq = pair.indexOf('=');
    found.push(spelling === 'variant' ? undefined : eq === -1 ? '' : decodeComponent(pair.slice(eq + 1)));
  }
  return found;
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
 * `url` with every occurrence of the query parameter `name` removed, in every spelling
 * {@link queryOccurrences} counts; the other parameters keep their exact bytes and order, and a
 * query left empty loses its '?'.
 */
export function withoutQueryParameter(url: string, name: string): string {
  const mark = url.indexOf('?');
  if (mark === -1) return url;
  const hashAt = url.indexOf('#', mark);
  const end = hashAt === -1 ? url.length : hashAt;
  const folded = foldedName(name);
  const kept = url
    .slice(mark + 1, end)
    .split('&')
    .filter((pair) => pairSpelling(pair, name, folded) === 'other');
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
