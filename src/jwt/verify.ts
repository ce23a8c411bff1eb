import type { KeyObject } from 'node:crypto';
import { logText } from '../logging/log-text.js';
import type { Provider } from './provider.js';
import { signatureMatches } from './signature.js';

/**
 * Why a token was refused: a stable code, a fixed sentence for the client, and a reason for
 * the debug log that tells one cause from another (never token content).
 */
export interface TokenProblem {
  code: 'invalid_token' | 'token_expired';
  reason: string;
  description: string;
}

/** A key a token can be verified with: a KeyObject from a JWKS, or an HMAC secret. */
export type VerifyKey = KeyObject | Uint8Array;

/** `keyMismatch`: every key failed on the signature, so another provider's keys may still fit. */
export type TokenCheck =
  | { ok: true; claims: Record<string, unknown>; key: VerifyKey }
  | { ok: false; problem: TokenProblem; keyMismatch?: boolean };

/** A token already split and decoded (by the authenticator, once). */
export interface ParsedToken {
  alg: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

const invalid = (reason: string, description: string): TokenCheck => ({
  ok: false,
  problem: { code: 'invalid_token', reason, description },
});

const LACKS_CLAIM = 'The token lacks a required claim';

/** A claim name from the options, as one safe piece of a log line. */
const missing = (name: string) => `missing claim "${logText(name, 64)}"`;

/** A NumericDate claim: absent, or a finite number (JSON's 1e400 parses to Infinity). */
function numericDate(claims: Record<string, unknown>, name: string): number | undefined | null {
  const value = claims[name];
  if (value === undefined) return undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Whether `aud` (a string, or an array of them; other elements never match) names one of `audiences`. */
function audienceAccepted(aud: unknown, audiences: readonly string[]): boolean {
  if (typeof aud === 'string') return audiences.includes(aud);
  if (!Array.isArray(aud)) return false;
  for (const value of aud) if (typeof value === 'string' && audiences.includes(value)) return true;
  return false;
}

/** RFC 7519 section 4.1 checks, with the provider's issuer, audiences, leeway and required claims. */
export function checkClaims(
  claims: Record<string, unknown>,
  provider: Provider,
  nowSeconds: number,
): TokenCheck | undefined {
  for (const name of provider.requiredClaims) {
    if (claims[name] === undefined) return invalid(missing(name), LACKS_CLAIM);
  }
  if (claims.iss !== provider.issuer)
    return invalid('issuer not accepted', "The token's issuer is not accepted");
  if (provider.audiences !== undefined) {
    const aud = claims.aud;
    if (aud === undefined) return invalid(missing('aud'), LACKS_CLAIM);
    if (!audienceAccepted(aud, provider.audiences))
      return invalid('audience not accepted', "The token's audience is not accepted");
  }
  const skew = provider.clockSkewSeconds;
  const exp = numericDate(claims, 'exp');
  if (exp === null) return invalid('claim "exp" is not a finite number', "The token's expiry is not valid");
  if (exp !== undefined && exp <= nowSeconds - skew) {
    return {
      ok: false,
      problem: {
        code: 'token_expired',
        reason: 'expired ("exp" is past)',
        description: 'The token has expired',
      },
    };
  }
  const nbf = numericDate(claims, 'nbf');
  if (nbf === null) return invalid('claim "nbf" is not a finite number', "The token's claims are not valid");
  if (nbf !== undefined && nbf > nowSeconds + skew)
    return invalid('not valid yet ("nbf" is ahead)', 'The token is not valid yet');
  if (numericDate(claims, 'iat') === null)
    return invalid('claim "iat" is not a finite number', "The token's issue time is not valid");
  return undefined;
}

/**
 * Verifies the signature with each candidate key in turn (several only when the token names
 * no kid), then the claims. A claim failure is final: it does not depend on the key.
 */
export function verifyWithKeys(
  token: ParsedToken,
  keys: readonly VerifyKey[],
  provider: Provider,
): TokenCheck {
  let key: VerifyKey | undefined;
  for (const candidate of keys) {
    if (signatureMatches(token.alg, token.signingInput, token.signature, candidate)) {
      key = candidate;
      break;
    }
  }
  if (key === undefined) {
    return {
      ok: false,
      problem: {
        code: 'invalid_token',
        reason: 'signature not valid',
        description: "The token's signature is not valid",
      },
      keyMismatch: true,
    };
  }
  return checkClaims(token.claims, provider, Date.now() / 1000) ?? { ok: true, claims: token.claims, key };
}
