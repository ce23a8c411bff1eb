import { type Authenticator, credentialError, type Verdict } from './authenticator.js';
import { refuseNonBoolean } from './config/known-keys.js';
import { noteReadLocation } from './credentials/read-locations.js';
import { type AuthError, ConfigError } from './errors.js';
import type { RequestHost } from './http/request-host.js';
import { type Auth, mergeAuth, rememberInboundCredential } from './identity.js';
import { applyMode, type Decision, MODES, type Mode, type Outcome } from './modes.js';

/** Options every inbound middleware shares. */
export interface InboundOptions {
  /** `strict` (default): a credential is required. See the modes table in the README. */
  mode?: Mode;
  /** Exact request paths that skip this middleware entirely. */
  publicPaths?: readonly string[];
  /**
   * Hand refusals to the app's own error handling instead of answering: Express receives
   * `next(err)`, Koa a thrown {@link AuthError} (status, code, headers, expose). Default false.
   */
  delegateErrors?: boolean;
}

/** What the adapter does next: refuse with `error`, or go on with `auth` (undefined: unchanged). */
export type InboundResult = { error: AuthError } | { error?: undefined; auth: Auth | undefined };

const UNCHANGED: InboundResult = { auth: undefined };

/**
 * An inbound middleware without its framework: one authenticator plus the behaviour every
 * scheme shares (public paths, reading the credential, modes, stripping, identity).
 */
export class Inbound {
  readonly authenticator: Authenticator;
  private readonly settings: InboundSettings;

  /**
   * Shared options are checked before `build` runs, so a refused option never leaves a
   * scheme's file watcher or JWKS refresh loop running with nobody able to close it.
   */
  constructor(options: InboundOptions, build: () => Authenticator) {
    this.settings = inboundSettings(options);
    this.authenticator = build();
  }

  get mode(): Mode {
    return this.settings.mode;
  }

  /**
   * What the credential at this scheme's location amounts to, before the mode is applied.
   * Synchronous when the scheme answers synchronously (an API key, a cached token): most
   * requests then cross no promise at all.
   */
  outcome(host: RequestHost): Outcome | Promise<Outcome> {
    const authn = this.authenticator;
    const reading = authn.locator.read(host);
    if (reading.kind === 'absent') {
      return {
        kind: 'absent',
        error: credentialError(authn, 'credentials_missing', 'Authentication is required'),
      };
    }
    if (reading.kind === 'repeated') {
      const error = credentialError(authn, 'invalid_request', 'The credential was sent more than once', 400);
      return { kind: 'malformed', error };
    }
    if (reading.value === '') {
      return { kind: 'invalid', error: credentialError(authn, 'invalid_request', 'The credential is empty') };
    }
    const credential = reading.value;
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = authn.authenticate(credential, host);
    } catch {
      return this.failed();
    }
    if (verdict instanceof Promise) {
      return verdict.then(
        (settled) => verdictOutcome(settled, credential),
        () => this.failed(),
      );
    }
    return verdictOutcome(verdict, credential);
  }

  /** A scheme must never turn hostile input into a 500, nor echo what went wrong inside it. */
  private failed(): Outcome {
    return {
      kind: 'invalid',
      error: credentialError(this.authenticator, 'invalid_credentials', 'The credential was not accepted'),
    };
  }

  /** Runs the scheme for one request and settles it: strips what it consumed, merges identity. */
  handle(host: RequestHost, existing: Auth | undefined): InboundResult | Promise<InboundResult> {
    // Recorded before the public-path check: a skipped location still counts as read, so
    // whatever the client sent there never reaches an upstream (backendAuth strips it).
    noteReadLocation(host.message, this.authenticator.locator);
    if (isPublicPath(this.settings, host)) return UNCHANGED;
    const outcome = this.outcome(host);
    if (outcome instanceof Promise) return outcome.then((settled) => this.decide(host, existing, settled));
    return this.decide(host, existing, outcome);
  }

  private decide(host: RequestHost, existing: Auth | undefined, outcome: Outcome): InboundResult {
    return settle(this.authenticator, host, existing, applyMode(this.settings.mode, outcome));
  }

  close(): Promise<void> {
    return this.authenticator.close();
  }
}

/** The shared options, checked once: the mode and the exact paths that skip authentication. */
export interface InboundSettings {
  mode: Mode;
  publicPaths: ReadonlySet<string>;
}

/** Checks the options every inbound middleware shares; throws a ConfigError naming the field. */
export function inboundSettings(options: InboundOptions): InboundSettings {
  validateInboundOptions(options);
  return { mode: options.mode ?? 'strict', publicPaths: new Set(options.publicPaths ?? []) };
}

/** True when this request's path skips authentication. */
export function isPublicPath(settings: InboundSettings, host: RequestHost): boolean {
  return settings.publicPaths.size > 0 && settings.publicPaths.has(host.path);
}

function validateInboundOptions(options: InboundOptions): void {
  // Each scheme then refuses the keys it does not know (src/config/known-keys.ts).
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ConfigError('options', 'must be an object');
  refuseNonBoolean(options.delegateErrors, 'delegateErrors');
  const mode = options.mode ?? 'strict';
  if (!MODES.includes(mode)) throw new ConfigError('mode', `must be one of ${MODES.join(', ')}`);
  if (options.publicPaths !== undefined && !Array.isArray(options.publicPaths)) {
    throw new ConfigError('publicPaths', 'must be an array of exact paths such as ["/health"]');
  }
  for (const path of options.publicPaths ?? []) {
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new ConfigError('publicPaths', `"${String(path)}" is not a path starting with "/"`);
    }
  }
}

/** Turns a decision into what the adapter applies; the one place credentials are stripped. */
export function settle(
  authenticator: Authenticator,
  host: RequestHost,
  existing: Auth | undefined,
  decision: Decision,
): InboundResult {
  if (decision.action === 'reject') return { error: decision.error };
  if (decision.action === 'pass') return UNCHANGED;
  authenticator.locator.strip(host);
  const auth = mergeAuth(existing, decision.identity);
  // Filed under the scheme that consumed it, never under the method an identity claims: a
  // custom provider answering method 'jwt' must not turn its API key into a passthrough token.
  rememberInboundCredential(auth, authenticator.method, decision.credential);
  return { auth };
}

function verdictOutcome(verdict: Verdict, credential: string): Outcome {
  return verdict.ok
    ? { kind: 'valid', identity: verdict.identity, credential }
    : { kind: 'invalid', error: verdict.error };
}
