import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { ConfigError } from '../errors.js';
import { identityHeaderValue } from '../http/header-value.js';
import {
  deleteHeader,
  FORWARDER_HEADERS,
  headerSpellingKey,
  removeConnectionListed,
  setHeader,
} from '../http/headers.js';
import type { RequestCheck } from './authorize.js';
import { type CompiledExpression, compileExpression } from './cel.js';
import { ruleContext } from './context.js';
import { addReads, checkReads, noReads } from './request-reads.js';

/** Options of `forwardIdentity()`: upstream header name -> CEL expression for its value. */
export interface ForwardIdentityOptions {
  headers: Record<string, string>;
}

const FORWARD_IDENTITY_KEYS = keysOf<ForwardIdentityOptions>()(
  'forwardIdentity',
  { headers: true },
  { claims: 'headers', map: 'headers', mapping: 'headers', set: 'headers' },
);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Sets identity headers for the upstream from CEL expressions. Every configured header the
 * client sent is removed first (in every spelling an upstream folds together), whatever the
 * expression yields, so a client cannot spoof it; the client's `Connection` list is cleaned
 * first, so it cannot make a proxy drop them. Values are encoded by identityHeaderValue.
 */
export function identityForwarder(options: ForwardIdentityOptions): RequestCheck {
  refuseUnknownKeys(options, FORWARD_IDENTITY_KEYS, '');
  const headers = options.headers;
  if (typeof headers !== 'object' || headers === null || Object.keys(headers).length === 0) {
    throw new ConfigError('headers', 'must map header names to CEL expressions');
  }
  const spellings = new Map<string, string>();
  const compiled: { name: string; evaluate: CompiledExpression }[] = Object.entries(headers).map(
    ([name, expression]) => {
      const field = `headers["${name}"]`;
      if (!HEADER_NAME.test(name)) throw new ConfigError(field, 'is not a valid header name');
      const key = headerSpellingKey(name);
      // A claim must never frame or route the request (`content-length` from a claim smuggles).
      if (FORWARDER_HEADERS.has(key)) throw new ConfigError(field, 'is a hop-by-hop or framing header');
      // Writing one would remove the other: upstreams read both as the same header.
      const other = spellings.get(key);
      if (other !== undefined) {
        throw new ConfigError(field, `is the same header as "${other}" to an upstream that folds _ and -`);
      }
      spellings.set(key, name);
      return { name: name.toLowerCase(), evaluate: compileExpression(expression, field) };
    },
  );
  const reads = noReads();
  for (const expression of Object.values(headers)) addReads(reads, expression);
  return {
    check(host, auth) {
      removeConnectionListed(host.message);
      // A value taken from a repeated parameter or header (or an ambiguous path) would tell the
      // upstream one copy while it may read the other: refused, as authorize() refuses it.
      const ambiguous = checkReads(reads, host);
      if (ambiguous !== undefined) return ambiguous;
      for (const { name } of compiled) deleteHeader(host.message, name);
      const context = ruleContext(host, auth);
      for (const { name, evaluate } of compiled) {
        let value: string | undefined;
        try {
          value = identityHeaderValue(evaluate(context));
        } catch {
          value = undefined; // absent claim or scheme: the header stays absent
        }
        if (value !== undefined) setHeader(host.message, name, value);
      }
      return undefined;
    },
  };
}
