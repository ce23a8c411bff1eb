import { unescape as lenientUnescape } from 'node:querystring';

// A query parameter or a cookie that some parser between the client and the data reads under
// our credential's name is the credential, whatever the exact bytes: qs (Express's `extended`
// parser) nests `name[]`, `name[0]`, `name[x]` and `[name]` under `name`; Rack drops leading
// brackets; PHP turns ' ' and '.' into '_', drops leading spaces and stops at NUL; ASP.NET
// compares names ignoring case. Every such spelling counts as an occurrence (so sending two is
// "sent twice") and is stripped with the credential; only the exact name is ever read.

/**
 * How one name on the wire relates to a credential's name: `exact` (its value is the
 * credential), `variant` (a spelling some parser folds into the name: an occurrence that is
 * never read) or `other`.
 */
export type Spelling = 'exact' | 'variant' | 'other';

const LEADING = /^[\s[\]]+/;
const ROOT_END = /[[\]\0]/;
const PHP_FOLDED = /[ .]/g;

/** The name as the most permissive parser downstream would file it. */
export function foldedName(decoded: string): string {
  let root = decoded.replace(LEADING, '');
  const end = root.search(ROOT_END);
  if (end !== -1) root = root.slice(0, end);
  return root.trimEnd().toLowerCase().replace(PHP_FOLDED, '_');
}

/**
 * Percent-decodes as qs and our reader do (`decodeURIComponent`); undefined when that fails
 * (a stray '%', bytes that are not UTF-8).
 */
export function strictDecode(text: string): string | undefined {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * True when a name as sent (with '+' already turned into a space where the syntax says so),
 * other than the exact name, is read as the name by some parser: `decoded` is its strict
 * decoding, `folded` is `foldedName(name)`. A name that does not decode is compared both raw
 * (qs keeps it so) and leniently decoded (Node's querystring and WHATWG URLSearchParams
 * replace what does not decode).
 */
export function isVariant(sent: string, decoded: string | undefined, folded: string): boolean {
  if (decoded !== undefined) return foldedName(decoded) === folded;
  return foldedName(sent) === folded || foldedName(lenientUnescape(sent)) === folded;
}
