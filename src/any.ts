import { credentialsMissing } from './authenticator.js';
import { INBOUND_SHAPE } from './config/inbound-shape.js';
import { optionsObject, parseOptions } from './config/schema.js';
import { noteReadLocation } from './credentials/read-locations.js';
import { ConfigError } from './errors.js';
import type { RequestHost } from './http/request-host.js';
import type { Auth } from './identity.js';
import {
  checkPublicPath,
  Inbound,
  type InboundOptions,
  type InboundResult,
  type InboundSettings,
  inboundSettings,
  settle,
} from './inbound.js';
import { applyMode, type Outcome } from './modes.js';

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
 * Several schemes, the first that authenticates wins and only its credential is stripped.
 * When none does: a presented-but-invalid credential is refused as its scheme refuses it (a
 * 503 from a key source that is down comes first: the credential may well be valid); with
 * nothing presented, one 401 carries every scheme's challenge.
 */
export class AnyInbound {
  private readonly settings: InboundSettings;

  constructor(
    readonly members: readonly Inbound[],
    options: AnyAuthOptions = {},
  ) {
    parseOptions(ANY_AUTH_OPTIONS, options);
    this.settings = inboundSettings(options);
    if (members.length === 0) throw new ConfigError('anyAuth', 'needs at least one middleware');
  }

  async handle(host: RequestHost, existing: Auth | undefined): Promise<InboundResult> {
    // Every member's location counts as read, also on public paths and for members after the
    // winner that never looked: a credential the client sent must not ride along upstream.
    for (const member of this.members) noteReadLocation(host.message, member.authenticator);
    const open = checkPublicPath(this.settings, host);
    if (open === true) return { auth: undefined };
    if (open !== false) return { error: open };
    // Every member's credential is read before any member authenticates: a credential sent
    // twice is refused (400) as each scheme alone refuses it, even when another member's
    // credential is valid, so the app never receives the two copies.
    const readings = this.members.map((member) => member.authenticator.locator.read(host));
    const repeated = readings.findIndex((reading) => reading.kind === 'repeated');
    if (repeated !== -1) {
      const outcome = await this.members[repeated]!.outcomeOf(host, readings[repeated]!);
      return settle(
        this.members[repeated]!.authenticator,
        host,
        existing,
        applyMode(this.settings.mode, outcome),
      );
    }
    const refusals: Outcome[] = [];
    for (let i = 0; i < this.members.length; i++) {
      const member = this.members[i]!;
      const outcome = await member.outcomeOf(host, readings[i]!);
      if (outcome.kind === 'valid' || outcome.kind === 'malformed') {
        return settle(member.authenticator, host, existing, applyMode(this.settings.mode, outcome));
      }
      refusals.push(outcome);
    }
    const invalid = refusals.filter((outcome) => outcome.kind === 'invalid');
    const chosen = invalid.find((outcome) => outcome.error.status === 503) ?? invalid[0] ?? this.absent();
    const decision = applyMode(this.settings.mode, chosen);
    return decision.action === 'reject' ? { error: decision.error } : { auth: undefined };
  }

  /** Nothing presented: one response carrying every scheme's challenge. */
  private absent(): Outcome {
    return { kind: 'absent', error: credentialsMissing(this.members.map((member) => member.authenticator)) };
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((member) => member.close()));
  }
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
