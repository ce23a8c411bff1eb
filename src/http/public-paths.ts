import { METHODS } from 'node:http';
import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { ConfigError } from '../errors.js';
import { logText } from '../logging/log-text.js';
import { canonicalPath, type PathFolding } from './canonical-path.js';
import { type OverridableRequest, requestedMethods, rewrittenPaths } from './overrides.js';

/**
 * `publicPaths`: the requests an inbound middleware lets through without a credential, in the
 * spirit of express-jwt's and koa-jwt's `.unless({ path, method })`, but decided on the
 * canonical path (src/http/canonical-path.ts) rather than on the raw URL, so that no spelling of
 * a path (`/DOCS`, `/docs%2F..`, `/docs/../admin`) reaches further than the entry says.
 *
 * - `'/health'`: exactly that path, folded as the app's router folds it;
 * - `'/docs/*'`: `/docs` and everything below it, at a segment boundary (`/docs/a/b`, never
 *   `/docsX`); `'/*'` is every path;
 * - `{ path?, methods? }`: a path (either form above) for some methods only, or, without a
 *   path, those methods on every path (`{ methods: ['OPTIONS'] }` for CORS preflights).
 *
 * No regular expressions: a pattern over the request text is how `/admin/` and `/Admin` came
 * to skip authentication in other libraries, and every entry here must mean one set of
 * canonical paths.
 */
export type PublicPath = string | PublicRequests;

/** Requests that skip authentication: a path (exact or `/prefix/*`), some methods, or both. */
export interface PublicRequests {
  /** `'/health'` (exact) or `'/docs/*'` (prefix); every path when left out. */
  path?: string;
  /**
   * Methods as Node receives them, upper case (`'OPTIONS'`); every method when left out. `GET`
   * also covers `HEAD`, as Express and @koa/router route a HEAD to the GET handler. A request
   * that asks for another method by override (`X-HTTP-Method-Override`, `X-HTTP-Method`,
   * `X-Method-Override`, a `_method` query parameter) is covered only when that method is
   * listed too: what runs after us may honour the override. (A `_method` in a form body cannot
   * be seen here: run method-override before portcullis, or not at all on public methods.)
   */
  methods?: readonly string[];
}

const PUBLIC_REQUEST_KEYS = keysOf<PublicRequests>()(
  'a publicPaths entry',
  { path: true, methods: true },
  { method: 'methods', url: 'path', paths: 'path' },
);

/** One entry, compiled for one router folding. */
interface CompiledEntry {
  /** The canonical path; `undefined`: any path. */
  readonly path: string | undefined;
  /** `path` is a prefix: it matches itself and what lies below it. */
  readonly prefix: boolean;
  /** `undefined`: any method. */
  readonly methods: ReadonlySet<string> | undefined;
}

/** The entries for one way a router folds paths. */
interface CompiledFolding {
  /** Exact paths open to every method: one lookup covers the common `['/health']`. */
  readonly exact: ReadonlySet<string>;
  /** Everything else, tried in order. */
  readonly others: readonly CompiledEntry[];
}

/** `publicPaths`, checked and compiled once per router folding. */
export interface PublicPathMatcher {
  /**
   * True when a request with this canonical path skips authentication. The request's method
   * is read only when an entry names methods: on Express every read of `req` costs (see
   * BENCHMARKS.md), and the common `['/health']` needs none.
   */
  matches(path: string, folding: PathFolding, request: PublicPathRequest): boolean;
}

/**
 * What the matcher reads of a request: its method, and what may override it or its path
 * (src/http/overrides.ts): a public POST webhook must not become a DELETE, nor `/health` an
 * `/admin`, behind something that honours `X-HTTP-Method-Override` or `X-Original-URL`.
 */
export type PublicPathRequest = OverridableRequest;

/** A checked entry, before folding. */
interface Entry {
  readonly path: string | undefined;
  readonly prefix: boolean;
  readonly methods: readonly string[] | undefined;
}

const PREFIX_SUFFIX = '/*';
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

/**
 * Checks `publicPaths` and compiles it; `undefined` when there is none. Throws a ConfigError
 * naming the entry (`publicPaths[2].methods[0]`).
 */
export function compilePublicPaths(value: unknown): PublicPathMatcher | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    throw new ConfigError(
      'publicPaths',
      'must be an array of paths ("/health", "/docs/*") or { path, methods } objects',
    );
  }
  if (value.length === 0) return undefined;
  const entries = value.map((entry: unknown, index) => checkEntry(entry, `publicPaths[${index}]`));
  // One compiled table per folding (index: caseSensitive * 2 + strict), so a request folds
  // nothing: its canonical path is already folded as its router folds.
  const tables = [0, 1, 2, 3].map((index) =>
    compileFolding(entries, { caseSensitive: index >= 2, strict: index % 2 === 1 }),
  );
  return {
    matches(path, folding, request) {
      const table = tables[(folding.caseSensitive ? 2 : 0) + (folding.strict ? 1 : 0)]!;
      // Read once, and only when an entry names methods (see above).
      let methods: string[] | undefined;
      const covers = (candidate: string): boolean => {
        if (table.exact.has(candidate)) return true;
        for (const entry of table.others) {
          if (entry.methods !== undefined) {
            // An entry for some methods covers a request only when every method it may be
            // routed as is one of them: a public POST webhook must not become a DELETE behind
            // an upstream that honours `X-HTTP-Method-Override: DELETE`.
            methods ??= requestedMethods(request);
            const allowed = entry.methods;
            if (!methods.every((method) => allowed.has(method))) continue;
          }
          if (entry.path === undefined || entry.path === candidate) return true;
          if (entry.prefix && under(candidate, entry.path)) return true;
        }
        return false;
      };
      if (!covers(path)) return false;
      // Read only for a request that is public by its own path: the rare case that pays.
      return rewrittenPaths(request, folding).every((other) => other !== undefined && covers(other));
    },
  };
}

/** `path` is `base` or lies below it, at a segment boundary. */
function under(path: string, base: string): boolean {
  if (base === '/') return true;
  return path.startsWith(base) && (path.length === base.length || path.charCodeAt(base.length) === 0x2f);
}

function compileFolding(entries: readonly Entry[], folding: PathFolding): CompiledFolding {
  const exact = new Set<string>();
  const others: CompiledEntry[] = [];
  for (const entry of entries) {
    const path = entry.path === undefined ? undefined : (canonicalPath(entry.path, folding) as string);
    if (path !== undefined && !entry.prefix && entry.methods === undefined) exact.add(path);
    else others.push({ path, prefix: entry.prefix, methods: methodSet(entry.methods) });
  }
  return { exact, others };
}

function methodSet(methods: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (methods === undefined) return undefined;
  const set = new Set(methods);
  if (set.has('GET')) set.add('HEAD');
  return set;
}

function checkEntry(entry: unknown, field: string): Entry {
  if (typeof entry === 'string') return { ...checkPath(entry, field), methods: undefined };
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ConfigError(field, 'must be a path ("/health", "/docs/*") or a { path, methods } object');
  }
  refuseUnknownKeys(entry, PUBLIC_REQUEST_KEYS, field);
  const { path, methods } = entry as PublicRequests;
  if (path === undefined && methods === undefined) {
    // `{}` would make every request public: almost certainly not what was meant.
    throw new ConfigError(
      field,
      'must give `path`, `methods` or both ("/*" is every path, if that is meant)',
    );
  }
  const checked = path === undefined ? { path: undefined, prefix: false } : checkPath(path, `${field}.path`);
  return {
    ...checked,
    methods: methods === undefined ? undefined : checkMethods(methods, `${field}.methods`),
  };
}

function checkPath(path: unknown, field: string): { path: string; prefix: boolean } {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new ConfigError(field, 'must be a path starting with "/"');
  }
  const prefix = path.endsWith(PREFIX_SUFFIX);
  const base = prefix ? path.slice(0, -PREFIX_SUFFIX.length) || '/' : path;
  if (base.includes('*')) {
    throw new ConfigError(
      field,
      `"${shown(path)}": "*" is allowed only as a last segment "/*" (a prefix such as "/docs/*"); write a literal star as %2A`,
    );
  }
  // A public path that could never be a request's canonical path would silently never match.
  if (
    base.includes('?') ||
    canonicalPath(base) === undefined ||
    (prefix && base.length > 1 && base.endsWith('/'))
  ) {
    throw new ConfigError(
      field,
      `"${shown(path)}" is not a canonical path: no query, no "//", "." or ".." segments, no ";", "\\" or encoded "/", "%", unreserved or control characters`,
    );
  }
  return { path: base, prefix };
}

function checkMethods(methods: unknown, field: string): readonly string[] {
  if (!Array.isArray(methods) || methods.length === 0) {
    throw new ConfigError(field, 'must be a non-empty array of methods such as ["OPTIONS"]');
  }
  methods.forEach((method: unknown, index) => {
    const at = `${field}[${index}]`;
    if (typeof method !== 'string') throw new ConfigError(at, 'must be a method name such as "OPTIONS"');
    if (KNOWN_METHODS.has(method)) return;
    // Methods are case-sensitive (RFC 9110 9.1) and Node's parser accepts only its own list,
    // in upper case (a request line `options / HTTP/1.1` gets Node's own 400): an entry in
    // any other spelling could never match, so it is refused rather than left inert.
    const upper = method.toUpperCase();
    throw new ConfigError(
      at,
      KNOWN_METHODS.has(upper)
        ? `"${shown(method)}": methods are case-sensitive and Node receives them in upper case: write "${upper}"`
        : `"${shown(method)}" is not a method Node accepts (http.METHODS)`,
    );
  });
  return methods as string[];
}

/** A configured value in a message: no secret, but any text (escaped, cut short). */
function shown(text: string): string {
  return logText(text, 64);
}
