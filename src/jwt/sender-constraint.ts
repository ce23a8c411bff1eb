import type { Problem } from '../authenticator.js';
import type { RequestHost } from '../http/request-host.js';

// Sender-constrained tokens (RFC 7800 `cnf`): after its signature and claims are verified (a
// cached token too, on every request), a token goes through here. Fail closed: every
// confirmation method in its `cnf` must be confirmed by a check configured for it; a method
// nobody checks (`x5t#S256` without mtls, anything unknown) refuses the token.

/** How the token came with this request. */
export interface Presentation {
  /** The token as sent (DPoP's `ath` is its hash). */
  readonly token: string;
  /** The auth-scheme it was sent with, lower case: `bearer` or `dpop`. */
  readonly scheme: string;
  readonly host: RequestHost;
  /** The verified claims (frozen). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Response headers a check asks for on success (a fresh `DPoP-Nonce`). */
  readonly headers: Record<string, string>;
}

/** A refusal, or nothing when the request proves possession; a promise when it must wait. */
export type Confirmation = Problem | undefined | Promise<Problem | undefined>;

/** One confirmation method: checks the `cnf` member it is named after. */
export interface ConfirmationCheck {
  /** The `cnf` member it confirms: `jkt` (RFC 9449, DPoP), `x5t#S256` (RFC 8705, mTLS). */
  readonly member: string;
  /** Whether this request proves possession of the key `value` (the member's value) names. */
  confirm(value: unknown, presentation: Presentation): Confirmation;
}

/**
 * What the whole constraint says: refused with `problem`, or confirmed (with response headers
 * the checks asked for, if any).
 */
export type ConstraintResult =
  | { problem: Problem }
  | { problem?: undefined; headers?: Readonly<Record<string, string>> };

/** What the constraint knows of DPoP besides the `jkt` check (which is a {@link ConfirmationCheck}). */
export interface DpopPolicy {
  /** `dpop.mode === 'required'`: a token sent as Bearer is refused, bound or not. */
  readonly required: boolean;
}

const invalid = (reason: string, description: string): ConstraintResult => ({
  problem: { code: 'invalid_token', reason, description },
});
const CONFIRMED: ConstraintResult = {};

const NOT_CONFIRMED = "The token's confirmation method is not accepted here";

/**
 * The sender constraint of one jwtAuth: its confirmation checks by member. `mtls` adds its
 * `x5t#S256` check to the list given here; nothing else needs to change.
 */
export class SenderConstraint {
  private readonly checks: ReadonlyMap<string, ConfirmationCheck>;
  /** Only DPoP presents tokens as `dpop`; without it and without `cnf`, nothing to do. */
  private readonly dpop: DpopPolicy | undefined;

  constructor(checks: readonly ConfirmationCheck[], dpop: DpopPolicy | undefined) {
    this.checks = new Map(checks.map((check) => [check.member, check]));
    this.dpop = dpop;
  }

  /**
   * Confirms the token's binding for this request. Synchronous and allocation-free for the
   * common case (undefined): a token without `cnf` presented as Bearer where Bearer is accepted.
   */
  check(
    claims: Readonly<Record<string, unknown>>,
    token: string,
    scheme: string | undefined,
    host: RequestHost,
  ): ConstraintResult | undefined | Promise<ConstraintResult> {
    const cnf = claims.cnf;
    const dpop = this.dpop;
    if (cnf === undefined && scheme !== 'dpop' && (dpop === undefined || !dpop.required)) return undefined;
    const presented = scheme ?? 'bearer';
    if (dpop?.required === true && presented !== 'dpop')
      return invalid('sent as Bearer where DPoP is required', 'This resource accepts DPoP-bound tokens only');
    if (cnf === undefined || (presented === 'dpop' && !hasOwn(cnf, 'jkt'))) {
      // RFC 9449 section 7.1: the DPoP scheme carries DPoP-bound tokens only.
      return invalid('sent as DPoP without cnf.jkt', 'The token is not bound to a DPoP key');
    }
    if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
      return invalid('cnf is not an object', NOT_CONFIRMED);
    const members = Object.keys(cnf);
    if (members.length === 0) return invalid('cnf names no confirmation method', NOT_CONFIRMED);
    for (const member of members) {
      if (!this.checks.has(member)) return invalid(`cnf member not checked here`, NOT_CONFIRMED);
    }
    const presentation: Presentation = { token, scheme: presented, host, claims, headers: {} };
    const confirmed = this.confirmFrom(0, members, cnf as Record<string, unknown>, presentation);
    if (confirmed instanceof Promise) return confirmed.then((problem) => outcome(problem, presentation));
    return outcome(confirmed, presentation);
  }

  /** Every member in turn; the first refusal wins. */
  private confirmFrom(
    index: number,
    members: readonly string[],
    cnf: Record<string, unknown>,
    presentation: Presentation,
  ): Confirmation {
    for (let i = index; i < members.length; i++) {
      const member = members[i]!;
      const result = this.checks.get(member)!.confirm(cnf[member], presentation);
      if (result instanceof Promise) {
        return result.then((problem) =>
          problem !== undefined ? problem : this.confirmFrom(i + 1, members, cnf, presentation),
        );
      }
      if (result !== undefined) return result;
    }
    return undefined;
  }
}

function outcome(problem: Problem | undefined, presentation: Presentation): ConstraintResult {
  if (problem !== undefined) return { problem };
  for (const _ in presentation.headers) return { headers: presentation.headers };
  return CONFIRMED;
}

function hasOwn(value: unknown, member: string): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, member);
}
