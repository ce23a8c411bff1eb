import { foldedName, isVariant, type Spelling, strictDecode } from './name-spellings.js';

// Cookie headers are parsed by hand, narrowly: we only ever need one named cookie, and the
// header must be rewritten with every other cookie untouched, byte for byte. Node joins the
// Cookie headers of a request (HTTP/1 repeats, HTTP/2 splits) into one with "; ".

// Only the separator's whitespace is dropped ("; " between pairs): a value is never trimmed,
// so `key ` and `key` are two different credentials.
const SEPARATOR_SPACE = /^[ \t]+/;

function cookiePairs(header: string): string[] {
  return header.split(';').map((pair) => pair.replace(SEPARATOR_SPACE, ''));
}

function nameOf(pair: string): string {
  const eq = pair.indexOf('=');
  return eq === -1 ? pair : pair.slice(0, eq);
}

/**
 * How the pair's name relates to `name`: cookie names are read as sent (`sid`), but a name
 * some parser downstream folds into it (`SID`, `sid `, `s%69d`, `sid[]`) is the same cookie.
 */
function pairSpelling(pair: string, name: string, folded: string): Spelling {
  const sent = nameOf(pair);
  if (sent === name) return 'exact';
  return isVariant(sent, strictDecode(sent), folded) ? 'variant' : 'other';
}

/**
 * The value as cookie libraries read it: one pair of quotes removed, percent-decoded, or as
 * sent when it does not decode.
 */
function cookieValue(pair: string): string | undefined {
  const eq = pair.indexOf('=');
  if (eq === -1) return undefined;
  let value = pair.slice(eq + 1);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return strictDecode(value) ?? value;
}

/**
 * Every occurrence of the cookie `name` in a Cookie header, in every spelling a parser
 * downstream reads as `name`: the value of an exact `name=value`, undefined for another
 * spelling or a pair without `=`.
 */
export function cookieOccurrences(header: string | undefined, name: string): (string | undefined)[] {
  if (header === undefined || header === '') return [];
  const folded = foldedName(name);
  const found: (string | undefined)[] = [];
  for (const pair of cookiePairs(header)) {
    const spelling = pairSpelling(pair, name, folded);
    if (spelling === 'exact') found.push(cookieValue(pair));
    else if (spelling === 'variant') found.push(undefined);
  }
  return found;
}

/** True when a cookie name (as a parser filed it) is `name` or another spelling of it. */
export function isCookieSpelling(sent: string, name: string): boolean {
  return pairSpelling(sent, name, foldedName(name)) !== 'other';
}

/** The Cookie header without the cookie `name` in any spelling; undefined when nothing is left. */
export function withoutCookie(header: string, name: string): string | undefined {
  const folded = foldedName(name);
  const kept = cookiePairs(header).filter(
    (pair) => pair !== '' && pairSpelling(pair, name, folded) === 'other',
  );
  return kept.length === 0 ? undefined : kept.join('; ');
}

/**
 * Whether `value` can be written as one cookie value as it is: RFC 6265 cookie-octets only (no
 * space, `"`, `,`, `;`, `\\`, control or non-ASCII character). `key; admin=1` would reach the
 * upstream as two cookies.
 */
export function isCookieValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e || code === 0x22 || code === 0x2c || code === 0x3b || code === 0x5c)
      return false;
  }
  return true;
}

/** The Cookie header with `name` set to `value`, replacing any cookie of that name. */
export function withCookie(header: string | undefined, name: string, value: string): string {
  const rest = header === undefined ? undefined : withoutCookie(header, name);
  const pair = `${name}=${value}`;
  return rest === undefined ? pair : `${rest}; ${pair}`;
}
