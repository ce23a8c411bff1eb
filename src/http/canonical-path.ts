/**
 * The one path that public paths and rules decide on, so that they decide on what the app
 * routes. Two readers must agree on a path: the app's own router (Express, @koa/router: they
 * match the raw, still-encoded text, case-insensitively and ignoring a trailing slash by
 * default) and whatever reads the request after it (a proxy's upstream, nginx, a servlet
 * container: they decode, merge slashes, resolve dot segments, cut `;` parameters). Where the
 * two would disagree there is no single right answer, so the request is refused instead of
 * guessed at. What is left is folded exactly as the router folds.
 *
 * Accepted and rewritten:
 * - absolute-form (`http://host/admin?x`, any scheme): reduced to its path, as Node's
 *   `url.parse` (Express and Koa routing) does; the authority must be a plain `host[:port]`;
 * - hex digits of percent-encodings upper-cased (`%c3%a9` -> `%C3%A9`);
 * - printable characters RFC 3986 does not allow raw in a path (`"<>[]^`{|}`) percent-encoded,
 *   so `/a|b` and `/a%7Cb` are one path;
 * - folded as the router folds: letters lower-cased unless routing is case-sensitive, and one
 *   trailing slash dropped (not from `/`) unless routing is strict.
 *
 * Refused (`undefined`; the caller answers 400 `invalid_request`):
 * - a target that is neither origin-form nor absolute-form (`*`), or that carries a fragment;
 * - an empty segment (`//admin`, `/a//b`): nginx merges slashes, the router does not, and
 *   `//host/x` is a network-path reference to a URL parser;
 * - a dot segment (`.`, `..`, also as `%2e`): the router does not resolve them (`/x/../admin`
 *   routes into `/x`'s handlers) while an upstream does (and lands on `/admin`);
 * - a percent-encoded unreserved character (`/%61dmin`): the router matches it as text (not
 *   `/admin`), an upstream decodes it to `/admin`; no URI producer writes one (RFC 3986 2.3);
 * - `%2F`, `\`, `%5C`: a segment separator to some readers and data to others;
 * - `;` and `%3B`: servlet containers and Spring cut path parameters (`/admin;x` is `/admin`);
 * - `%25`: an upstream that decodes twice sees another path (`%2561` -> `%61` -> `a`);
 * - control characters, raw or encoded (`%00`-`%1F`, `%7F`), and a raw space;
 * - invalid percent-encoding (`%zz`, `%4`), encodings that are not UTF-8 (overlong `%C0%AF`,
 *   surrogates), text whose Unicode compatibility form differs (fullwidth `ａｄｍｉｎ`), and
 *   letters a case-insensitive upstream folds into ASCII (`%C4%B1` dotless i: `/admın`).
 */

/** How the app's router compares paths (Express `case sensitive routing`, `strict routing`). */
export interface PathFolding {
  readonly caseSensitive: boolean;
  readonly strict: boolean;
}

/** Express's defaults, and @koa/router's. */
export const DEFAULT_FOLDING: PathFolding = Object.freeze({ caseSensitive: false, strict: false });

const PERCENT = 0x25;
const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * What each ASCII character is when it appears raw in a path: 0 plain (copied as is),
 * 1 refused, 2 percent-encoded. Anything above 0x7E is refused (Node's parser already refuses
 * raw non-ASCII; a lenient parser might not).
 */
const RAW = new Uint8Array(128);
for (let code = 0; code < 128; code++) {
  const char = String.fromCharCode(code);
  if (code <= 0x20 || code === 0x7f || char === '\\' || char === ';' || char === '#') RAW[code] = 1;
  else if ('"<>[]^`{|}'.includes(char)) RAW[code] = 2;
}

/** Decoded bytes that must stay encoded are fine; these are refused outright. */
function refusedByte(byte: number): boolean {
  return byte < 0x20 || byte === 0x7f || byte === SLASH || byte === 0x5c || byte === 0x3b || byte === PERCENT;
}

/** ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 section 2.3). */
function unreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === DOT ||
    byte === 0x5f ||
    byte === 0x7e
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

const HEX = '0123456789ABCDEF';

// scheme "://" host [":" port], host a DNS name, IPv4 or bracketed IPv6 literal. Anything
// else in the authority (userinfo, `\`, `%`) is refused rather than parsed as url.parse would.
const ABSOLUTE_FORM =
  /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?(?=[/?]|$)/;

/**
 * The path of a request target (origin-form or absolute-form, as Node hands it over in
 * `message.url`, or Express/Koa's `originalUrl`), canonical as described above; `undefined`
 * when the target cannot be made unambiguous. Pure: no I/O, no state.
 */
export function canonicalPath(target: string, folding: PathFolding = DEFAULT_FOLDING): string | undefined {
  let start = 0;
  if (target.charCodeAt(0) !== SLASH) {
    const authority = ABSOLUTE_FORM.exec(target);
    if (authority === null) return undefined;
    start = authority[0].length;
  }
  const query = target.indexOf('?', start);
  const end = query === -1 ? target.length : query;
  if (start === end) return '/';
  if (target.charCodeAt(start) !== SLASH) return undefined;
  if (target.includes('#', end)) return undefined;

  let out = '';
  let copiedTo = start; // target[copiedTo, i) is still to be copied as is
  let segmentIsDots = true; // the current segment so far holds only dots (raw)
  let segmentLength = 0;
  let encodedNonAscii = false;
  let needsCaseFold = false;
  for (let i = start + 1; i <= end; i++) {
    const code = i === end ? SLASH : target.charCodeAt(i);
    if (code === SLASH) {
      // A segment ends: empty (except the last, a trailing slash) and dot segments are refused.
      // (an empty last segment is a trailing slash, folded below).
      if (segmentLength === 0 && i !== end) return undefined;
      if (segmentIsDots && segmentLength > 0 && segmentLength <= 2) return undefined;
      segmentIsDots = true;
      segmentLength = 0;
      continue;
    }
    segmentLength++;
    if (code === PERCENT) {
      if (i + 2 >= end) return undefined;
      const high = hexValue(target.charCodeAt(i + 1));
      const low = hexValue(target.charCodeAt(i + 2));
      if (high < 0 || low < 0) return undefined;
      const byte = high * 16 + low;
      if (refusedByte(byte) || unreserved(byte)) return undefined;
      if (byte >= 0x80) encodedNonAscii = true;
      segmentIsDots = false;
      const upper = `%${HEX[high]}${HEX[low]}`;
      if (target.slice(i, i + 3) !== upper) {
        out += target.slice(copiedTo, i) + upper;
        copiedTo = i + 3;
      }
      i += 2;
      continue;
    }
    if (code >= 0x80) return undefined;
    const kind = RAW[code];
    if (kind === 1) return undefined;
    if (code !== DOT) segmentIsDots = false;
    if (kind === 2) {
      out += `${target.slice(copiedTo, i)}%${HEX[code >> 4]}${HEX[code & 15]}`;
      copiedTo = i + 1;
    } else if (code >= 0x41 && code <= 0x5a) {
      needsCaseFold = true;
    }
  }
  let path = copiedTo === start ? target.slice(start, end) : out + target.slice(copiedTo, end);
  if (encodedNonAscii && !validUnicode(path)) return undefined;
  if (!folding.caseSensitive && needsCaseFold) path = lowerCaseOutsideEscapes(path);
  if (!folding.strict && path.length > 1 && path.charCodeAt(path.length - 1) === SLASH) {
    path = path.slice(0, -1);
  }
  return path;
}

/**
 * Letters outside ASCII whose one-to-one Unicode case mapping is an ASCII letter: `ı` (upper
 * `I`), `İ` (lower `i`), `ſ` (upper `S`), Kelvin `K` (lower `k`). A case-insensitive upstream
 * that compares character by character (.NET's OrdinalIgnoreCase behind IIS routing, Java's
 * equalsIgnoreCase) reads `/adm%C4%B1n` as `/admin`, while the router and the rules see
 * another path.
 */
const CASE_FOLDS_TO_ASCII = /[\u0130\u0131\u017f\u212a]/;

/**
 * Percent-encoded bytes form UTF-8 (no overlong forms, no surrogates) in Unicode's NFKC form,
 * without a letter that case-folds into ASCII.
 */
function validUnicode(path: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  return decoded.normalize('NFKC') === decoded && !CASE_FOLDS_TO_ASCII.test(decoded);
}

/** Lower-cases ASCII letters, leaving the (upper-case) hex digits of `%XX` as they are. */
function lowerCaseOutsideEscapes(path: string): string {
  if (!path.includes('%')) return path.toLowerCase();
  return path.replace(/(%[0-9A-F]{2})|[^%]+/g, (part, encoded: string | undefined) =>
    encoded === undefined ? part.toLowerCase() : encoded,
  );
}
