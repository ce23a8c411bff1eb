import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { ConfigError } from '../errors.js';
import { isHeaderSafe } from '../http/header-value.js';
import { deleteHeader, setHeader } from '../http/headers.js';
import type { RequestCheck } from './authorize.js';
import { type CompiledExpression, compileExpression } from './cel.js';
import { ruleContext } from './context.js';

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

/** A header value we can write: Latin-1 without CR, LF, NUL or other control characters. */
function headerValue(value: unknown): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    text = String(value);
  else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) text = value.join(',');
  else return undefined;
  return isHeaderSafe(text) ? text : undefined;
}

/**
 * Sets identity headers for the upstream from CEL expressions. Every configured header the
 * client sent is removed first, whatever the expression yields, so a client cannot spoof it.
 */
export function identityForwarder(options: ForwardIdentityOptions): RequestCheck {
  refuseUnknownKeys(options, FORWARD_IDENTITY_KEYS, '');
  const headers = options.headers;
  if (typeof headers !== 'object' || headers === null || Object.keys(headers).length === 0) {
    throw new ConfigError('headers', 'must map header names to CEL expressions');
  }
  const compiled: { name: string; evaluate: CompiledExpression }[] = Object.entries(headers).map(
    ([name, expression]) => {
      if (!HEADER_NAME.test(name)) throw new ConfigError(`headers["${name}"]`, 'is not a valid header name');
      return { name: name.toLowerCase(), evaluate: compileExpression(expression, `headers["${name}"]`) };
    },
  );
  return {
    check(host, auth) {
      for (const { name } of compiled) deleteHeader(host.message, name);
      const context = ruleContext(host, auth);
      for (const { name, evaluate } of compiled) {
        let value: string | undefined;
        try {
          value = headerValue(evaluate(context));
        } catch {
          value = undefined; // absent claim or scheme: the header stays absent
        }
        if (value !== undefined) setHeader(host.message, name, value);
      }
      return undefined;
    },
  };
}
