import {
  type Authenticator,
  type Problem,
  type SchemeContext,
  type SchemeDeclaration,
  schemeContext,
  type Verdict,
} from './authenticator.js';
import { refuseNonBoolean } from './config/known-keys.js';
import type { CredentialLocation, CredentialReading } from './credentials/location.js';
import { type CredentialReader, noteReadLocation } from './credentials/read-locations.js';
import { type AuthError, ConfigError } from './errors.js';
import { ambiguousPathError } from './http/ambiguity.js';
import { compilePublicPaths, type PublicPath, type PublicPathMatcher } from './http/public-paths.js';
import type { RequestHost } from './http/request-host.js';
import { type Auth, mergeAuth } from './identity.js';
import type { Logger } from './logger.js';
import { applyMode, MODES, type Mode, type Outcome } from './modes.js';
import {
  askingFor,
  credentialRefusal,
  credentialsMissing,
  repeatedHeaderError,
  traceRefusal,
  unavailable,
} from './refusals.js';

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

/** The options of one scheme that the pipeline reads itself (see {@link schemeContext}). */
export interface SchemeOptions extends InboundOptions {
  location?: CredentialLocation;
  realm?: string;
  logger?: Logger;
}

/**
 * A response a middleware gives itself, not a refusal: mcpAuth answers its RFC 9728 metadata
 * documents (and their CORS preflights) this way. The adapter writes these three fields as
 * they are; for HEAD, Node (and Koa) send the headers without the body.
 */
export interface Answer {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: string;
}

/**
 * What the adapter does next: refuse with `error`, answer with `answer` (the request goes no
 * further), or go on with `auth` (undefined: unchanged), setting `headers` on the response
 * first when there are any (a fresh `DPoP-Nonce`).
 */
export type InboundResult =
  | { error: AuthError; answer?: undefined }
  | { error?: undefined; answer: Answer; auth?: undefined }
  | {
      error?: undefined;
      answer?: undefined;
      auth: Auth | undefined;
      headers?: Readonly<Record<string, string>>;
    };

const UNCHANGED: InboundResult = { auth: undefined };

/** One scheme as the pipeline runs it: where it reads, how it asks, its logger and its check. */
export interface Member extends CredentialReader {
  readonly method: string;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
}

/** What one member made of its reading: nothing there, an identity, or a refusal with its reason. */
type Tried =
  | { kind: 'absent' }
  | {
      kind: 'valid';
      member: Member;
      outcome: Outcome & { kind: 'valid' };
      headers?: Readonly<Record<string, string>>;
    }
  | { kind: 'invalid'; member: Member; error: AuthError; reason: string };

const ABSENT: Tried = { kind: 'absent' };

/**
 * The inbound pipeline, the same for one scheme (`jwtAuth`, ...) and for several (`anyAuth`):
 * note every member's location as read, skip public paths, read every member's credential,
 * refuse a credential sent twice, ask each member in order (the first identity wins), apply the
 * mode, strip the winner's credential, and build every refusal from the catalogue
 * (src/refusals.ts), logging its reason at debug level. The schemes only check credentials.
 */
export class Inbound {
  /** For the debug log: where nothing was found, written once. */
  private readonly absentReason: string;

  constructor(
    private readonly settings: InboundSettings,
    readonly members: readonly Member[],
  ) {
    this.absentReason = `no credential at ${members.map((member) => member.locator.description).join(', ')}`;
  }

  /**
   * One scheme. The shared options (mode, public paths, then logger, realm, location) are
   * checked before `build` runs, so a refused option never leaves a scheme's file watcher or
   * JWKS refresh loop running with nobody able to close it.
   */
  static scheme<Options extends SchemeOptions>(
    options: Options,
    declared: SchemeDeclaration,
    build: (context: SchemeContext) => Authenticator,
    contextOf: (options: Options, declared: SchemeDeclaration) => SchemeContext = schemeContext,
  ): Inbound {
    const settings = inboundSettings(options);
    const context = contextOf(options, declared);
    const asking = askingFor(declared.challenge, context.locator, context.realm);
    const member: Member = {
      method: declared.method,
      locator: context.locator,
      asking: context.dpop === undefined ? asking : { ...asking, dpop: context.dpop },
      logger: context.logger,
      authenticator: build(context),
    };
    return new Inbound(settings, [member]);
  }

  get mode(): Mode {
    return this.settings.mode;
  }

  /** Runs the pipeline for one request: strips what it consumed, merges identity, or refuses. */
  handle(host: RequestHost, existing: Auth | undefined): InboundResult | Promise<InboundResult> {
    const members = this.members;
    // Every member's location counts as read, before the public-path check and for members
    // after the winner that never looked: whatever the client sent there never reaches an
    // upstream (backendAuth strips it).
    for (const member of members) noteReadLocation(host.message, member);
    const open = checkPublicPath(this.settings, host);
    if (open === true) return UNCHANGED;
    if (open !== false) return this.refuse(members, open, 'request path ambiguous');
    // Every member's credential is read before any member authenticates: a credential sent
    // twice is refused (400, in every mode) even when another member's is valid, so the app
    // never receives the two copies.
    const readings = members.map((member) => member.locator.read(host));
    const repeated = readings.findIndex((reading) => reading.kind === 'repeated');
    if (repeated !== -1) {
      const member = members[repeated]!;
      const error = credentialRefusal(
        member.asking,
        'invalid_request',
        'The credential was sent more than once',
        400,
      );
      return this.conclude({ kind: 'malformed', error }, [member], 'credential sent more than once');
    }
    return this.tryFrom(0, undefined, readings, host, existing);
  }

  /**
   * Asks the members from `index` on, synchronously while they answer synchronously (an API
   * key, a cached token): most requests then cross no promise at all. `invalid` is the refusal
   * kept so far: the first, unless a later one is a 503 (that credential may well be valid).
   */
  private tryFrom(
    index: number,
    invalid: (Tried & { kind: 'invalid' }) | undefined,
    readings: readonly CredentialReading[],
    host: RequestHost,
    existing: Auth | undefined,
  ): InboundResult | Promise<InboundResult> {
    for (let i = index; i < this.members.length; i++) {
      const tried = this.tried(this.members[i]!, readings[i]!, host);
      if (tried instanceof Promise) {
        return tried.then((settled) => {
          if (settled.kind === 'valid') return this.accept(settled, host, existing);
          return this.tryFrom(i + 1, kept(invalid, settled), readings, host, existing);
        });
      }
      if (tried.kind === 'valid') return this.accept(tried, host, existing);
      invalid = kept(invalid, tried);
    }
    if (invalid !== undefined) {
      return this.conclude({ kind: 'invalid', error: invalid.error }, [invalid.member], invalid.reason);
    }
    const error = credentialsMissing(this.members);
    return this.conclude({ kind: 'absent', error }, this.members, this.absentReason);
  }

  /** What one member's reading amounts to. */
  private tried(member: Member, reading: CredentialReading, host: RequestHost): Tried | Promise<Tried> {
    if (reading.kind === 'absent') return ABSENT;
    if (reading.kind !== 'found') {
      // A credential in a spelling we do not read: present, and not something we can check.
      const error = credentialRefusal(member.asking, 'invalid_request', 'The credential is malformed');
      return { kind: 'invalid', member, error, reason: 'credential malformed' };
    }
    if (reading.value === '') {
      const error = credentialRefusal(member.asking, 'invalid_request', 'The credential is empty');
      return { kind: 'invalid', member, error, reason: 'credential empty' };
    }
    const credential = reading.value;
    const presented = reading.scheme;
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = member.authenticator.authenticate(credential, host, presented);
    } catch {
      return failed(member);
    }
    if (verdict instanceof Promise) {
      return verdict.then(
        (settled) => judged(member, settled, credential, presented),
        () => failed(member),
      );
    }
    return judged(member, verdict, credential, presented);
  }

  private accept(
    tried: Tried & { kind: 'valid' },
    host: RequestHost,
    existing: Auth | undefined,
  ): InboundResult {
    const decision = applyMode(this.settings.mode, tried.outcome);
    if (decision.action !== 'accept') return UNCHANGED;
    tried.member.locator.strip(host);
    const auth = mergeAuth(existing, decision.proven);
    return tried.headers === undefined ? { auth } : { auth, headers: tried.headers };
  }

  /** Applies the mode to a request no member authenticated. */
  private conclude(outcome: Outcome, by: readonly Member[], reason: string): InboundResult {
    const decision = applyMode(this.settings.mode, outcome);
    if (decision.action === 'reject') return this.refuse(by, decision.error, reason);
    if (outcome.kind === 'invalid') {
      const mode = this.settings.mode;
      traceRefusal(by, () => `${methods(by)}: passed on in ${mode} mode: ${outcome.error.code} (${reason})`);
    }
    return UNCHANGED;
  }

  /** The one place a refusal leaves the pipeline: its reason goes to the debug log. */
  private refuse(by: readonly Member[], error: AuthError, reason: string): InboundResult {
    traceRefusal(by, () => `${methods(by)}: refused with ${error.status} ${error.code} (${reason})`);
    return { error };
  }

  close(): Promise<void> {
    return Promise.all(this.members.map((member) => member.authenticator.close())).then(() => undefined);
  }
}

function kept(
  invalid: (Tried & { kind: 'invalid' }) | undefined,
  tried: Tried,
): (Tried & { kind: 'invalid' }) | undefined {
  if (tried.kind !== 'invalid') return invalid;
  if (invalid === undefined || (tried.error.status === 503 && invalid.error.status !== 503)) return tried;
  return invalid;
}

/** A scheme must never turn hostile input into a 500, nor echo what went wrong inside it. */
function failed(member: Member): Tried {
  const error = credentialRefusal(member.asking, 'invalid_credentials', 'The credential was not accepted');
  return { kind: 'invalid', member, error, reason: 'the scheme failed while checking the credential' };
}

function judged(member: Member, verdict: Verdict, credential: string, presented: string | undefined): Tried {
  if (verdict.ok) {
    // Filed under the member's scheme, whatever method the identity names (see mergeAuth).
    const proven = {
      identity: verdict.identity,
      method: member.method,
      credential,
      allScopes: verdict.allScopes === true,
    };
    const outcome = { kind: 'valid', proven } as const;
    return verdict.headers === undefined
      ? { kind: 'valid', member, outcome }
      : { kind: 'valid', member, outcome, headers: verdict.headers };
  }
  return {
    kind: 'invalid',
    member,
    error: refusalFor(member, verdict.problem, presented),
    reason: verdict.problem.reason,
  };
}

/**
 * A scheme's problem as the HTTP refusal the catalogue builds for this member's location and
 * the auth-scheme the credential was presented with.
 */
function refusalFor(member: Member, problem: Problem, presented: string | undefined): AuthError {
  switch (problem.code) {
    case 'unavailable':
      return unavailable(problem.retryAfterSeconds);
    case 'ambiguous_path':
      return ambiguousPathError();
    case 'ambiguous_header':
      return repeatedHeaderError();
    default:
      return credentialRefusal(
        member.asking,
        problem.code,
        problem.description,
        undefined,
        presented,
        problem.headers,
      );
  }
}

function methods(members: readonly Member[]): string {
  return members.map((member) => member.method).join(', ');
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
