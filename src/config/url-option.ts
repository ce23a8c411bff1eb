import { isLoopbackHost } from '../http/loopback.js';

/**
 * The one check of URL-valued options (dpop.publicUrl, mcpAuth's resource and
 * authorizationServers): an absolute http(s) URL, with what each option refuses besides. Each
 * option keeps its own sentences, which the caller files under the field's name.
 */
export interface UrlOptionRules {
  /** Said when the value is not an absolute URL. */
  readonly notAbsolute: string;
  /** `any`: http or https for any host; `loopback`: https, plain http only for loopback hosts. */
  readonly plainHttp: 'any' | 'loopback';
  /** Said when the scheme is not allowed. */
  readonly badScheme: string;
  /** Said when the URL has a user name or password; unchecked when absent. */
  readonly credentials?: string;
  /** Said when the URL has a fragment (even an empty `#`). */
  readonly fragment: string;
  /** Said when the URL has a query (even an empty `?`). */
  readonly query: string;
  /**
   * Whether the value must be written exactly as the WHATWG parser writes it back (`href`):
   * for identifiers compared as strings by peers that normalise them first.
   */
  readonly canonical?: (href: string) => string;
}

/** Why `value` is refused under `rules`, or undefined when it is usable. */
export function urlOptionProblem(value: string, rules: UrlOptionRules): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return rules.notAbsolute;
  }
  const https = url.protocol === 'https:';
  const http = url.protocol === 'http:';
  const schemeOk =
    rules.plainHttp === 'any' ? https || http : https || (http && isLoopbackHost(url.hostname));
  if (!schemeOk) return rules.badScheme;
  if (rules.credentials !== undefined && (url.username !== '' || url.password !== ''))
    return rules.credentials;
  if (url.hash !== '' || value.includes('#')) return rules.fragment;
  if (url.search !== '' || value.includes('?')) return rules.query;
  if (rules.canonical !== undefined && url.href !== value) return rules.canonical(url.href);
  return undefined;
}
