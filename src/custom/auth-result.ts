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
  private constructor(
    readonly ok: boolean,
    readonly identity: CustomIdentity | undefined,
    readonly reason: string | undefined,
  ) {}

  static ok(identity: CustomIdentity = {}): AuthResult {
    return new AuthResult(true, identity, undefined);
  }

  /** `reason` may reach the client as `error_description` when it is short, printable text. */
  static denied(reason?: string): AuthResult {
    return new AuthResult(false, undefined, reason);
  }
}
