import { canonicalPath, type PathFolding } from './canonical-path.js';
import { type MessageHead, sameSpelling } from './headers.js';
import { queryOccurrences } from './query.js';

/**
 * What a request asks for besides its request line: another method, another path. Whatever
 * runs after portcullis (the app's own middleware, a proxied upstream) may honour these, so a
 * decision on the request line alone (a public path, a rule on `request.method` or
 * `request.path`) would be taken for one request and served as another.
 */

/** A request as these readers need it: its head, and its method. */
export interface OverridableRequest extends MessageHead {
  readonly method?: string | undefined;
}

/**
 * Where a client can ask for another method: Express's method-override and ASP.NET Core
 * (`X-HTTP-Method-Override`), Rack and Laravel (that header, and `_method`), OData and
 * Microsoft services (`X-HTTP-Method`), Google APIs (`X-Method-Override`), Spring's
 * HiddenHttpMethodFilter (`_method`, query string included). Compared in every spelling an
 * upstream folds into one name (`X_HTTP_Method_Override`).
 */
const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;
const METHOD_OVERRIDE_PARAMETER = '_method';

/**
 * Every method this request may be routed as: its own first, then each override it carries
 * (upper case, as method-override and Rack upper-case it). An override in a spelling we do not
 * read (`_method[]`) is the empty string, a method nothing allows.
 */
export function requestedMethods(request: OverridableRequest): string[] {
  const methods = [request.method ?? ''];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (METHOD_OVERRIDE_HEADERS.some((key) => sameSpelling(name, key))) {
      methods.push(raw[i + 1]!.trim().toUpperCase());
    }
  }
  for (const value of queryOccurrences(request.url ?? '', METHOD_OVERRIDE_PARAMETER)) {
    methods.push(value?.toUpperCase() ?? '');
  }
  return methods;
}

/** True when the request asks, by an override, for a method other than its own. */
export function methodIsOverridden(request: OverridableRequest): boolean {
  const [own, ...others] = requestedMethods(request);
  return others.some((method) => method !== own);
}

/**
 * Headers that name another path than the request line's, honoured by what may run after us:
 * IIS URL Rewrite / ARR, Zend Framework 1, and Symfony (so Drupal) until the 2018 fix of
 * CVE-2018-14773, the access-control bypass these two headers are known for. Behind IIS ARR,
 * `X-Original-URL` repeats the client's own path and changes nothing.
 */
const REWRITE_HEADERS = ['x-original-url', 'x-rewrite-url'] as const;

/** The canonical path of each rewrite header sent; undefined for one that is not a path. */
export function rewrittenPaths(request: MessageHead, folding: PathFolding): (string | undefined)[] {
  let paths: (string | undefined)[] | undefined;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!REWRITE_HEADERS.some((key) => sameSpelling(name, key))) continue;
    paths ??= [];
    paths.push(canonicalPath(raw[i + 1]!.trim(), folding));
  }
  return paths ?? NO_PATHS;
}
const NO_PATHS: (string | undefined)[] = [];

/** True when a rewrite header names another path than `path` (or no path at all). */
export function pathIsRewritten(request: MessageHead, path: string, folding: PathFolding): boolean {
  return rewrittenPaths(request, folding).some((other) => other !== path);
}
