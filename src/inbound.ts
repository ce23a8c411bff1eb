import { type Authenticator, credentialError, type Verdict } from './authenticator.js';
import { refuseNonBoolean } from './config/known-keys.js';
import type { CredentialReading } from './credentials/location.js';
import { noteReadLocation } from './credentials/read-locations.js';
import { type AuthError, ConfigError } from './errors.js';
import { ambiguousPathError } from './http/ambiguity.js';
import { compilePublicPaths, type PublicPath, type PublicPathMatcher } from './http/public-paths.js';
import type { RequestHost } from './http/request-host.js';
import { type Auth, mergeAuth, rememberInboundCredential } from './identity.js';
import { applyMode, type Decision, MODES, type Mode, type Outcome } from './modes.js';

/** Options every inbound middleware shares. */
export interface InboundOptions {
  /** `strict` (default): a credential is required. See the modes table in the README. */
  mode?: Mode;
  /**
   * Requests that skip this middleware entirely: exact paths (`'/health'`), prefixes
   * (`'/docs/*'`: `/docs` and below it) and `{ path?, methods? }` (`{ methods: ['OPTIONS'] }`
   * for CORS preflights), compared with the request's canonical, absolute path (see the README:
   * folded as the app's router folds, e.g. `/Health/` is `/health` on Express by default; the
   * full path under a mounted router, never the mount-relative one).
   */
  publicPaths?: readonly PublicPath[];
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
    return this.outcomeOf(host, this.authenticator.locator.read(host));
  }

  /** {@link outcome} for a reading already taken (anyAuth reads every member's first). */
  outcomeOf(host: RequestHost, reading: CredentialReading): Outcome | Promise<Outcome> {
    const authn = this.authenticator;
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
    if (reading.kind === 'malformed') {
      // Same answer as an empty credential: present, and not something we can check.
      return {
        kind: 'invalid',
        error: credentialError(authn, 'invalid_request', 'The credential is malformed'),
      };
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
    noteReadLocation(host.message, this.authenticator);
    const open = checkPublicPath(this.settings, host);
    if (open === true) return UNCHANGED;
    if (open !== false) return { error: open };
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

/** The shared options, checked once: the mode and the paths that skip authentication. */
export interface InboundSettings {
  mode: Mode;
  /** The public paths and methods, compiled once per way a router folds paths. */
  publicPaths: PublicPathMatcher | undefined;
}

/** Checks the options every inbound middleware shares; throws a ConfigError naming the field. */
export function inboundSettings(options: InboundOptions): InboundSettings {
  validateInboundOptions(options);
  const publicPaths = compilePublicPaths(options.publicPaths);
  return { mode: options.mode ?? 'strict', publicPaths };
}

/**
 * True when this request's path skips authentication; an AuthError (400) when its path is
 * ambiguous, since whether it is public cannot then be told. (Not named isPublicPath: an
 * AuthError is truthy, and `if (isPublicPath(...))` must not compile into a bypass.) Public paths are compared with
 * the canonical path folded as the app's router folds: the same path rules see.
 */
export function checkPublicPath(settings: InboundSettings, host: RequestHost): boolean | AuthError {
  const matcher = settings.publicPaths;
  if (matcher === undefined) return false;
  const path = host.path;
  if (path === undefined) return ambiguousPathError();
  return matcher.matches(path, host.folding, host.message);
}

function validateInboundOptions(options: InboundOptions): void {
  // Each scheme then refuses the keys it does not know (src/config/known-keys.ts).
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ConfigError('options', 'must be an object');
  refuseNonBoolean(options.delegateErrors, 'delegateErrors');
  const mode = options.mode ?? 'strict';
  if (!MODES.includes(mode)) throw new ConfigError('mode', `must be one of ${MODES.join(', ')}`);
  // publicPaths is checked where it is compiled (src/http/public-paths.ts).
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
