import { brand, isBranded } from '../brand.js';
import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';

/** The identity a custom provider grants. */
export interface CustomIdentity {
  subject?: string;
  /** RFC 6749 scope-tokens; others are dropped. `"*"` is the literal scope "*", not a wildcard. */
  scopes?: readonly string[];
  /** Recorded as `auth.method`. Default 'custom'. */
  method?: string;
  /** Recorded as `auth.claims`. */
  claims?: Record<string, unknown>;
}

const AUTH_RESULT = Symbol.for('portcullis.AuthResult');

const IDENTITY_KEYS = keysOf<CustomIdentity>()(
  'AuthResult.ok',
  { subject: true, scopes: true, method: true, claims: true },
  {
    sub: 'subject',
    user: 'subject',
    scope: 'scopes',
    permissions: 'scopes',
    roles: 'scopes',
    metadata: 'claims',
  },
);

/**
 * What a custom provider answers: `AuthResult.ok({ subject, scopes, method, claims })` or
 * `AuthResult.denied(reason)`.
 *
 * @example
 * ```ts
 * const provider = {
 *   async authenticate(token: string) {
 *     const session = await sessions.find(token);
 *     return session ? AuthResult.ok({ subject: session.user, scopes: session.scopes }) : AuthResult.denied('unknown session');
 *   },
 * };
 * ```
 */
export class AuthResult {
  /**
   * True for an AuthResult of any copy of portcullis (src/brand.ts): a provider module that
   * imports `portcullis` may run under a middleware loaded from the other build. The identity
   * is still read field by field, so a look-alike object grants nothing an AuthResult could not.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked, a subclass too
    return isBranded(this, AuthResult, AUTH_RESULT, value);
  }

  private constructor(
    readonly ok: boolean,
    readonly identity: CustomIdentity | undefined,
    readonly reason: string | undefined,
  ) {}

  static ok(identity: CustomIdentity = {}): AuthResult {
    // A misspelt `scope` would grant no scopes without a word. Runs per request: for-in, no array.
    for (const key in identity) {
      if (!IDENTITY_KEYS.names.includes(key)) refuseUnknownKeys(identity, IDENTITY_KEYS, 'AuthResult.ok');
    }
    return new AuthResult(true, identity, undefined);
  }

  /**
   * `reason` is for the operator: logged (the credential redacted), never sent. The client
   * always gets the fixed sentence "The credential was not accepted".
   */
  static denied(reason?: string): AuthResult {
    return new AuthResult(false, undefined, reason);
  }
}

brand(AuthResult, AUTH_RESULT);
