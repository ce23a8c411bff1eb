import type { KeyObject } from 'node:crypto';
import { errors, type JWTPayload, jwtVerify } from 'jose';
import type { Provider } from './provider.js';

/** Why a token was refused: a stable code and a fixed sentence (never token content). */
export interface TokenProblem {
  code: 'invalid_token' | 'token_expired';
  description: string;
}

/** `keyMismatch`: every key failed on the signature, so another provider's keys may still fit. */
export type TokenCheck =
  | { ok: true; claims: JWTPayload; key: VerifyKey }
  | { ok: false; problem: TokenProblem; keyMismatch?: boolean };

const invalid = (description: string): TokenCheck => ({
  ok: false,
  problem: { code: 'invalid_token', description },
});

const CLAIM_PROBLEMS: Readonly<Record<string, string>> = {
  iss: "The token's issuer is not accepted",
  aud: "The token's audience is not accepted",
  nbf: 'The token is not valid yet',
  iat: "The token's issue time is not valid",
  exp: "The token's expiry is not valid",
};

/** Maps what jose reports to our fixed vocabulary, so no library text reaches a client. */
function problemOf(error: unknown): TokenCheck {
  if (error instanceof errors.JWTExpired) {
    return { ok: false, problem: { code: 'token_expired', description: 'The token has expired' } };
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return invalid('The token lacks a required claim');
    return invalid(CLAIM_PROBLEMS[error.claim] ?? "The token's claims are not valid");
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid("The token's algorithm is not accepted");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return invalid("The token's signature is not valid");
  return invalid('The token is malformed');
}

/**
 * Verifies signature and claims with each candidate key in turn (several only when the token
 * names no kid). A claim failure is final: it does not depend on the key.
 */
/** A key jose can verify with: a KeyObject from a JWKS, or an HMAC secret. */
export type VerifyKey = KeyObject | Uint8Array;

export async function verifyWithKeys(
  token: string,
  keys: readonly VerifyKey[],
  provider: Provider,
): Promise<TokenCheck> {
  const mismatch: TokenCheck = {
    ok: false,
    problem: { code: 'invalid_token', description: "The token's signature is not valid" },
    keyMismatch: true,
  };
  for (const key of keys) {
    try {
      const { payload } = await jwtVerify(token, key as Uint8Array, {
        issuer: provider.issuer,
        ...(provider.audiences !== undefined ? { audience: [...provider.audiences] } : {}),
        algorithms: [...provider.algorithms],
        clockTolerance: provider.clockSkewSeconds,
        requiredClaims: [...provider.requiredClaims],
      });
      // JSON.parse turns 1e400 into Infinity, which jose reads as "never expires".
      for (const claim of ['exp', 'nbf', 'iat'] as const) {
        if (payload[claim] !== undefined && !Number.isFinite(payload[claim]))
          return invalid(CLAIM_PROBLEMS[claim]!);
      }
      return { ok: true, claims: payload, key };
    } catch (error) {
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) return problemOf(error);
    }
  }
  return mismatch;
}
