import { INBOUND_SHAPE } from './config/inbound-shape.js';
import { optionsObject, parseOptions } from './config/schema.js';
import { ConfigError } from './errors.js';
import { Inbound, type InboundOptions, type InboundSettings, inboundSettings } from './inbound.js';

/** Options of `anyAuth()`, given as its last argument. */
export type AnyAuthOptions = InboundOptions;

const ON_EACH_MEMBER = { say: "it belongs to each member's own options (jwtAuth, apiKeyAuth, ...)" };
/** The schema of {@link AnyAuthOptions}: the shared inbound options, checked by the pipeline. */
const ANY_AUTH_OPTIONS = optionsObject('anyAuth', INBOUND_SHAPE, {
  location: ON_EACH_MEMBER,
  realm: ON_EACH_MEMBER,
  logger: ON_EACH_MEMBER,
  members: ON_EACH_MEMBER,
});

/**
 * `anyAuth`: the inbound pipeline (src/inbound.ts) over several schemes, the first that
 * authenticates wins and only its credential is stripped. When none does: a
 * presented-but-invalid credential is refused as its scheme refuses it (a 503 from a key source
 * that is down comes first: the credential may well be valid); with nothing presented, one 401
 * carries every scheme's challenge. The members' own mode, public paths and delegateErrors are
 * not used: anyAuth's options apply.
 */
export class AnyInbound extends Inbound {
  constructor(members: readonly Inbound[], options: AnyAuthOptions = {}) {
    super(
      anySettings(members, options),
      members.flatMap((member) => member.members),
    );
  }
}

function anySettings(members: readonly Inbound[], options: AnyAuthOptions): InboundSettings {
  parseOptions(ANY_AUTH_OPTIONS, options);
  const settings = inboundSettings(options);
  if (members.length === 0) throw new ConfigError('anyAuth', 'needs at least one middleware');
  return settings;
}

// Each adapter's middleware carries its core Inbound under this symbol, so anyAuth can take
// the middlewares the user already made (with their options) and run them as one.
const INBOUND = Symbol.for('portcullis.inbound');

/** Marks an adapter middleware with the Inbound it runs. */
export function withInbound<T extends object>(middleware: T, inbound: Inbound): T {
  Object.defineProperty(middleware, INBOUND, { value: inbound, enumerable: false });
  return middleware;
}

/** The Inbound behind a middleware made by `jwtAuth`, `basicAuth`, `apiKeyAuth` or `customAuth`. */
export function inboundOf(middleware: unknown, index: number): Inbound {
  const inbound = (middleware as { [INBOUND]?: unknown } | null)?.[INBOUND];
  if (!(inbound instanceof Inbound)) {
    throw new ConfigError(
      `anyAuth argument ${index + 1}`,
      'must be made by jwtAuth, basicAuth, apiKeyAuth or customAuth',
    );
  }
  return inbound;
}

/** Splits `anyAuth(mw1, mw2, ..., options?)` into members and options. */
export function anyAuthArguments(args: readonly unknown[]): { members: Inbound[]; options: AnyAuthOptions } {
  const last = args.at(-1);
  const hasOptions = typeof last === 'object' && last !== null && typeof last !== 'function';
  const middlewares = hasOptions ? args.slice(0, -1) : args;
  return { members: middlewares.map(inboundOf), options: hasOptions ? (last as AnyAuthOptions) : {} };
}
