import { keyPath } from '../config/known-keys.js';
import { flag, lockedTo, optionsObject, parseOptions, refined, refuse, z } from '../config/schema.js';
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

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADERS = 'must map header names to CEL expressions';

/** The schema of {@link ForwardIdentityOptions}. */
export const FORWARD_IDENTITY_OPTIONS = optionsObject(
  'forwardIdentity',
  {
    headers: refined(
      z.record(z.string(), z.string({ error: 'must be a CEL expression (a non-empty string)' }), {
        error: HEADERS,
      }),
      (headers, ctx) => {
        const names = Object.keys(headers);
        if (names.length === 0) return refuse(ctx, HEADERS);
        const spellings = new Map<string, string>();
        for (const name of names) {
          const problem = headerNameProblem(name, spellings);
          if (problem !== undefined) return refuse(ctx, problem, name);
        }
      },
    ),
    // Taken off by the adapters (src/adapter-kit.ts) before the headers reach this step; known
    // here so that a misspelling of it is told `did you mean \`delegateErrors\`?`, and that
    // the options listed on an unknown key are all that forwardIdentity takes.
    delegateErrors: flag().optional(),
  },
  { claims: 'headers', map: 'headers', mapping: 'headers', set: 'headers' },
);

/** Options of `forwardIdentity()`: upstream header name -> CEL expression for its value. */
export interface ForwardIdentityOptions {
  headers: Record<string, string>;
}

lockedTo<ForwardIdentityOptions & { delegateErrors?: boolean }, z.output<typeof FORWARD_IDENTITY_OPTIONS>>(
  true,
);

/** Why `name` cannot be set from a claim; `spellings` holds the names seen so far by folded key. */
function headerNameProblem(name: string, spellings: Map<string, string>): string | undefined {
  if (!HEADER_NAME.test(name)) return 'is not a valid header name';
  const key = headerSpellingKey(name);
  // A claim must never frame or route the request (`content-length` from a claim smuggles).
  if (FORWARDER_HEADERS.has(key)) return 'is a hop-by-hop or framing header';
  // Writing one would remove the other: upstreams read both as the same header.
  const other = spellings.get(key);
  if (other !== undefined) return `is the same header as "${other}" to an upstream that folds _ and -`;
  spellings.set(key, name);
  return undefined;
}

/**
 * Sets identity headers for the upstream from CEL expressions. Every configured header the
 * client sent is removed first (in every spelling an upstream folds together), whatever the
 * expression yields, so a client cannot spoof it; the client's `Connection` list is cleaned
 * first, so it cannot make a proxy drop them. Values are encoded by identityHeaderValue.
 */
export function identityForwarder(given: ForwardIdentityOptions): RequestCheck {
  const { headers } = parseOptions(FORWARD_IDENTITY_OPTIONS, given);
  const compiled: { name: string; evaluate: CompiledExpression }[] = Object.entries(headers).map(
    ([name, expression]) => ({
      name: name.toLowerCase(),
      evaluate: compileExpression(expression, keyPath('headers', name)),
    }),
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
      const context = ruleContext(host, auth, reads);
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
