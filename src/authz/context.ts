import { fullTarget } from '../http/paths.js';
import { parseQuery } from '../http/query.js';
import type { RequestHost } from '../http/request-host.js';
import { type Auth, hasAllScopes } from '../identity.js';
import type { RuleContext } from './cel.js';

/**
 * The variables rules see. `request` is always there; `jwt`, `basicAuth`, `apiKey` and `auth`
 * only when a scheme put them on the identity, so a rule about an absent scheme errs (and
 * fails closed) instead of reading an empty value.
 */
export function ruleContext(host: RequestHost, auth: Auth | undefined): RuleContext {
  const message = host.message;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, values] of Object.entries(parseQuery(message.url ?? ''))) query[name] = values[0] ?? '';
  const request: Record<string, unknown> = {
    method: message.method ?? 'GET',
    host: headers.host ?? '',
    scheme: host.protocol,
    headers,
    query,
  };
  // The canonical path, folded as the app routes; absent when it is ambiguous, which only
  // happens for rules that do not read it (checkReads refuses the request otherwise).
  const path = host.path;
  if (path !== undefined) {
    request.path = path;
    request.url = fullTarget(path, message.url);
  }
  const context: RuleContext = { request };
  if (auth === undefined) return context;
  // `allScopes` is the wildcard of an API-key record: a "*" among `scopes` may be a token's
  // literal scope, which grants nothing (RFC 6749 section 3.3), so rules must not read it so.
  const summary: Record<string, unknown> = { scopes: auth.scopes, allScopes: hasAllScopes(auth) };
  if (auth.subject !== undefined) summary.subject = auth.subject;
  if (auth.method !== undefined) summary.method = auth.method;
  context.auth = summary;
  if (auth.jwt !== undefined) context.jwt = auth.jwt;
  if (auth.basicAuth !== undefined) context.basicAuth = auth.basicAuth;
  if (auth.apiKey !== undefined) {
    // As in agentgateway, metadata fields are reachable directly too: apiKey.group.
    const { name, scopes, metadata } = auth.apiKey;
    context.apiKey = { ...metadata, name, scopes, metadata };
  }
  if (auth.claims !== undefined) context.claims = auth.claims;
  return context;
}
