import { type ASTNode, parse } from '@marcbachmann/cel-js';
import type { AuthError } from '../errors.js';
import {
  ambiguousHostError,
  ambiguousPathError,
  overriddenMethodError,
  repeatedHeaderError,
  repeatedQueryError,
} from '../http/ambiguity.js';
import { canonicalPath, type PathFolding } from '../http/canonical-path.js';
import { headerSpellingKey, sameSpelling } from '../http/headers.js';
import { foldedName } from '../http/name-spellings.js';
import { methodIsOverridden, pathIsRewritten } from '../http/overrides.js';
import { queryOccurrences, queryString } from '../http/query.js';
import type { RequestHost } from '../http/request-host.js';

/**
 * Which parts of the request a set of rules reads, found once at start-up by walking each
 * rule's syntax tree. A request is refused (400) only over what its rules read: a repeated
 * `?a=1&a=2` that no rule looks at is the app's own business, but a repeated parameter or
 * header a rule decides on is as ambiguous as a repeated credential (the rule would see one
 * copy, the app or the upstream maybe the other).
 */
export interface RequestReads {
  /** `request.path` or `request.url`: the canonical path must exist. */
  path: boolean;
  /** `request.method`: no override may name another method. */
  method: boolean;
  /** `request.scheme`: the protocol (on Express, a getter that makes several reads). */
  scheme: boolean;
  /** Query parameter names read; `true`: the query is read as a whole (or by a computed key). */
  query: Set<string> | true;
  /** Header names read, lower-case; `true`: the headers are read as a whole. */
  headers: Set<string> | true;
}

/** Reads nothing; grows with {@link addReads}. */
export function noReads(): RequestReads {
  return { path: false, method: false, scheme: false, query: new Set(), headers: new Set() };
}

/**
 * Adds what `expression` reads of `request` to `reads`. Over-approximates on purpose: `request`
 * used as a value (`[request][0]`, a macro over it, a computed key) counts as reading all of it,
 * so a rule can never read a copy the check did not look at.
 */
export function addReads(reads: RequestReads, expression: string): void {
  let ast: ASTNode;
  try {
    ast = parse(expression).ast;
  } catch {
    readEverything(reads); // compileExpression already refused it; never under-count
    return;
  }
  visit(ast, reads);
}

function readEverything(reads: RequestReads): void {
  reads.path = true;
  reads.method = true;
  reads.scheme = true;
  reads.query = true;
  reads.headers = true;
}

function addName(reads: RequestReads, part: 'query' | 'headers', name: string): void {
  const names = reads[part];
  if (names !== true) names.add(part === 'headers' ? name.toLowerCase() : name);
}

/**
 * `request` followed by field accesses with literal keys (`request.query.tenant`,
 * `request.headers["x-team"]`), as the list of keys; undefined for anything else.
 */
function accessChain(node: ASTNode): string[] | undefined {
  const keys: string[] = [];
  let current: ASTNode = node;
  for (;;) {
    if (current.op === 'id') return current.args === 'request' ? keys.reverse() : undefined;
    if (current.op === '.' || current.op === '.?') {
      const [target, key] = current.args as [ASTNode, string];
      keys.push(key);
      current = target;
      continue;
    }
    if (current.op === '[]' || current.op === '[?]') {
      const [target, key] = current.args as [ASTNode, ASTNode];
      if (key.op !== 'value' || typeof key.args !== 'string') return undefined;
      keys.push(key.args);
      current = target;
      continue;
    }
    return undefined;
  }
}

/** Records what one access chain rooted at `request` reads. */
function recordChain(chain: readonly string[], reads: RequestReads): void {
  const [field, name] = chain;
  if (field === undefined)
    readEverything(reads); // `request` itself, as a value
  else if (field === 'path') reads.path = true;
  else if (field === 'method') reads.method = true;
  else if (field === 'scheme') reads.scheme = true;
  else if (field === 'url') {
    reads.path = true;
    reads.query = true;
  } else if (field === 'host') addName(reads, 'headers', 'host');
  else if (field === 'query' || field === 'headers') {
    if (name === undefined) reads[field] = true;
    else addName(reads, field, name);
  }
}

function visit(node: unknown, reads: RequestReads): void {
  if (Array.isArray(node)) {
    for (const item of node) visit(item, reads);
    return;
  }
  if (typeof node !== 'object' || node === null || !('op' in node)) return;
  const ast = node as ASTNode;
  // `"x-team" in request.headers` tests one name, not the whole map.
  if (ast.op === 'in') {
    const [item, container] = ast.args as [ASTNode, ASTNode];
    const chain = accessChain(container);
    if (item.op === 'value' && typeof item.args === 'string' && chain?.length === 1) {
      const field = chain[0];
      if (field === 'query' || field === 'headers') {
        addName(reads, field, item.args);
        return;
      }
    }
  }
  const chain = accessChain(ast);
  if (chain !== undefined) {
    recordChain(chain, reads);
    return;
  }
  visit(ast.args, reads);
}

/**
 * Refuses (400) a request whose parts the rules read are ambiguous: the canonical path when
 * rules read the path (or a rewrite header names another), the method when rules read it and
 * an override names another, a read query parameter or header sent more than once.
 */
export function checkReads(reads: RequestReads, host: RequestHost): AuthError | undefined {
  if (reads.path) {
    // A rule decides on the request line's path; an upstream that honours X-Original-URL
    // (src/http/overrides.ts) would serve another: as ambiguous as `/x/../admin`.
    const path = host.path;
    if (path === undefined || pathIsRewritten(host.message, path, host.folding)) return ambiguousPathError();
  }
  // Likewise for a rule on the method and an override naming another one.
  if (reads.method && methodIsOverridden(host.message)) return overriddenMethodError();
  if (reads.query === true || reads.query.size > 0) {
    if (queryIsAmbiguous(reads.query, host.message.url ?? '')) return repeatedQueryError();
  }
  if (reads.headers === true || reads.headers.size > 0) {
    if (headersAreAmbiguous(reads.headers, host.message.rawHeaders)) return repeatedHeaderError();
    if ((reads.headers === true || reads.headers.has('host')) && hostIsAmbiguous(host)) {
      return ambiguousHostError();
    }
  }
  return undefined;
}

/**
 * An absolute-form target names a host of its own, which RFC 9112 section 3.2.2 tells a server
 * to prefer over the Host header; the app (and request.host) reads the header. Refused when the
 * two differ, so a rule on request.host cannot be passed with one host and served by another.
 */
function hostIsAmbiguous(host: RequestHost): boolean {
  const target = host.message.url ?? '/';
  if (target.startsWith('/')) return false;
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(target)?.[1];
  return (
    authority === undefined || authority.toLowerCase() !== (host.message.headers.host ?? '').toLowerCase()
  );
}

const QUERY_PARSER_LIMIT = 1000;

function sameValues(a: readonly (string | undefined)[], b: readonly (string | undefined)[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/** A query parameter name as qs and querystring read it: `+` is a space, `%XX` decoded. */
function parameterName(pair: string): string | undefined {
  const eq = pair.indexOf('=');
  const raw = (eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * True when a read parameter appears more than once, counting every spelling that some parser
 * between the client and the data files under its name, exactly as a query credential is
 * counted (src/http/name-spellings.ts): `t%65nant`, `tenant[]`, `tenant[0]`, and also
 * `[tenant]` (Express's qs parser reads `tenant`), `Tenant` (ASP.NET), ` tenant` (PHP). A
 * spelling other than the exact name is ambiguous even alone: the rule sees no `tenant` where
 * the app or the upstream sees one. A value that does not decode is ambiguous too (the rule
 * sees nothing, the app a lenient decoding), and so is a read parameter that a raw `;` would
 * split differently (`tenant=a;x`, `x=1;tenant=red`). With
 * `names === true` (the query read as a whole) a bracket form, two names that fold together, a
 * name that does not decode, or a raw `;` is refused.
 */
function queryIsAmbiguous(names: Set<string> | true, url: string): boolean {
  const query = queryString(url);
  if (query === '') return false;
  const pairs = query.split('&');
  // qs (parameterLimit) and node:querystring (maxKeys) drop every parameter after the 1000th:
  // a rule would see one the app never does.
  if (pairs.length > QUERY_PARSER_LIMIT) return true;
  if (names !== true) {
    // Rack (before 3) and Python before 3.9.2 also split the query at `;`: with one there,
    // `?tenant=blue;tenant=red` or `?x=1;tenant=red` carries a tenant the rule never sees.
    const semicolons = query.includes(';') ? url.replace(/;/g, '&') : undefined;
    for (const name of names) {
      const found = queryOccurrences(url, name);
      if (found.length > 1 || (found.length === 1 && found[0] === undefined)) return true;
      if (semicolons !== undefined && !sameValues(found, queryOccurrences(semicolons, name))) return true;
    }
    return false;
  }
  if (query.includes(';')) return true;
  const seen = new Set<string>();
  for (const pair of pairs) {
    if (pair === '') continue;
    const name = parameterName(pair);
    if (name === undefined || name.includes('[')) return true;
    const folded = foldedName(name);
    if (seen.has(folded)) return true;
    seen.add(folded);
    const eq = pair.indexOf('=');
    if (eq !== -1) {
      try {
        decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
      } catch {
        return true;
      }
    }
  }
  return false;
}

/**
 * True when a read header arrives on more than one line, or under a spelling an upstream may
 * fold into its name (`x_team`, `x.team`, `X~Team` for `x-team`: CGI, WSGI, Rack and PHP turn
 * them all into HTTP_X_TEAM; headerSpellingKey in src/http/headers.ts is that folding, the one
 * forwardIdentity and backendAuth strip by). Node joins most repeated headers with ", " and
 * keeps only the first of others, so a rule would see a value no single line carried; and it
 * keeps `x_team` apart, so a rule would see no `x-team` where the upstream sees one. With
 * `names === true` every header counts.
 */
function headersAreAmbiguous(names: Set<string> | true, rawHeaders: readonly string[]): boolean {
  if (names !== true) {
    for (const wanted of names) {
      const folded = headerSpellingKey(wanted);
      let count = 0;
      for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!;
        if (!sameSpelling(name, folded)) continue;
        if (++count > 1 || name.toLowerCase() !== wanted) return true;
      }
    }
    return false;
  }
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const folded = headerSpellingKey(name);
    if (folded !== name || seen.has(folded)) return true;
    seen.add(folded);
  }
  return false;
}

/**
 * The string literals a rule compares `request.path` with (`==`, `!=`, `in [...]`) or takes as
 * its prefix (`startsWith`): each must be something a canonical path can be, or the rule would
 * silently never match (a deny that never fires). Case and a trailing slash are left to the
 * README: whether `/Admin/` can match depends on the app's routing, known only per request.
 */
export function nonCanonicalPathLiteral(expression: string): string | undefined {
  let ast: ASTNode;
  try {
    ast = parse(expression).ast;
  } catch {
    return undefined;
  }
  return findNonCanonical(ast);
}

const EXACT: PathFolding = { caseSensitive: true, strict: true };

function isPathAccess(node: ASTNode): boolean {
  const chain = accessChain(node);
  return chain?.length === 1 && chain[0] === 'path';
}

function literalOf(node: ASTNode | undefined): string | undefined {
  return node?.op === 'value' && typeof node.args === 'string' ? node.args : undefined;
}

function badEquality(literal: string | undefined): boolean {
  return literal !== undefined && canonicalPath(literal, EXACT) !== literal;
}

function badPrefix(literal: string | undefined): boolean {
  // "/admin/" and "/admin" are both prefixes a canonical path can have; "/x/.." is not.
  return literal !== undefined && literal !== '' && canonicalPath(`${literal}x`, EXACT) !== `${literal}x`;
}

function findNonCanonical(node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findNonCanonical(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null || !('op' in node)) return undefined;
  const ast = node as ASTNode;
  if (ast.op === '==' || ast.op === '!=') {
    const [left, right] = ast.args as [ASTNode, ASTNode];
    const literal = isPathAccess(left) ? literalOf(right) : isPathAccess(right) ? literalOf(left) : undefined;
    if (badEquality(literal)) return literal;
  } else if (ast.op === 'in') {
    const [item, list] = ast.args as [ASTNode, ASTNode];
    if (isPathAccess(item) && list.op === 'list') {
      for (const element of list.args as ASTNode[]) {
        const literal = literalOf(element);
        if (badEquality(literal)) return literal;
      }
    }
  } else if (ast.op === 'rcall' || ast.op === 'call') {
    const args = ast.args as unknown[];
    const name = args[0];
    const [target, argument] =
      ast.op === 'rcall'
        ? [args[1] as ASTNode, (args[2] as ASTNode[])[0]]
        : [(args[1] as ASTNode[])[0], (args[1] as ASTNode[])[1]];
    if (name === 'startsWith' && target !== undefined && isPathAccess(target)) {
      const literal = literalOf(argument);
      if (badPrefix(literal)) return literal;
    }
  }
  return findNonCanonical(ast.args);
}
