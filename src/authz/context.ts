import { fullTarget } from '../http/paths.js';
import { parseQuery } from '../http/query.js';
import type { RequestHost } from '../http/request-host.js';
import { type Auth, hasAllScopes } from '../identity.js';
import type { RuleContext } from './cel.js';
import type { RequestReads } from './request-reads.js';

/**
 * The variables rules see. `request` is always there, with the fields the rules read (see
 * {@link RequestReads}: found at start-up, over-approximated, so a field a rule could read is
 * never missing); `jwt`, `basicAuth`, `apiKey` and `auth` only when a scheme put them on the
 * identity, so a rule about an absent scheme errs (and fails closed) instead of reading an
 * empty value. Building only what is read keeps rules that never look at headers from copying
 * them all, and Express's `req.protocol` getter from running (BENCHMARKS.md: authorize).
 */
export function ruleContext(host: RequestHost, auth: Auth | undefined, reads: RequestReads): RuleContext {
  const message = host.message;
  const request: Record<string, unknown> = {};
  if (reads.method) request.method = message.method ?? 'GET';
  if (reads.scheme) request.scheme = host.protocol;
  const readHeaders = reads.headers;
  if (readHeaders === true || readHeaders.size > 0) {
    const headers: Record<string, string> = {};
    const sent = message.headers;
    for (const name of readHeaders === true ? Object.keys(sent) : readHeaders) {
      // Own fields only: `"constructor" in request.headers` must not find Object's.
      const value = Object.hasOwn(sent, name) ? sent[name] : undefined;
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    request.headers = headers;
    // `request.host` is recorded as a read of the `host` header.
    if (readHeaders === true || readHeaders.has('host')) request.host = headers.host ?? '';
  }
  const readQuery = reads.query;
  if (readQuery === true || readQuery.size > 0) {
    const query: Record<string, string> = {};
    for (const [name, values] of Object.entries(parseQuery(message.url ?? '')))
      if (readQuery === true || readQuery.has(name)) query[name] = values[0] ?? '';
    request.query = query;
  }
  // The canonical path, folded as the app routes; absent when it is ambiguous, which only
  // happens for rules that do not read it (checkReads refuses the request otherwise).
  if (reads.path) {
    const path = host.path;
    if (path !== undefined) {
      request.path = path;
      request.url = fullTarget(path, message.url);
    }
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
