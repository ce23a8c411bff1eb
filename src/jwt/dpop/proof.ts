import { hash } from 'node:crypto';
import { parseCompactJwt } from '../compact.js';
import { signatureMatches } from '../signature.js';
import { expectedHtu, normalisedHtu, type PublicBase } from './htu.js';
import { proofKey } from './jwk.js';

// One DPoP proof checked against one request: RFC 9449 section 4.3, checks 2 to 11 (check 1,
// one DPoP header, is the caller's, which reads the header; check 12, the key binding, compares
// the thumbprint returned here with the token's `cnf.jkt`). Replay and nonce are the caller's.

/** What a valid proof tells the caller. */
export interface CheckedProof {
  readonly thumbprint: string;
  readonly jti: string;
  readonly nonce: unknown;
}

export type ProofCheck =
  | { ok: true; proof: CheckedProof }
  | { ok: false; reason: string; description: string };

/** What the proof is checked against. */
export interface ProofRequest {
  readonly proof: string;
  readonly token: string;
  readonly method: string;
  readonly target: string;
}

export interface ProofPolicy {
  readonly algorithms: readonly string[];
  readonly iatWindowSeconds: number;
  readonly base: PublicBase;
}

/** Longest `jti` kept: a client-chosen value, hashed before it is stored, bounded anyway. */
const MAX_JTI = 256;

const refused = (reason: string, description = 'The DPoP proof is not valid'): ProofCheck => ({
  ok: false,
  reason,
  description,
});

export function checkProof(request: ProofRequest, policy: ProofPolicy): ProofCheck {
  // 2, 3: a well-formed JWT in compact JWS form (canonical base64url, JSON objects, no crit).
  const parsed = parseCompactJwt(request.proof);
  if (parsed === undefined) return refused('proof not a compact JWS with JSON header and claims');
  const { header, claims, alg } = parsed;
  // 4: typ (exactly; RFC 9449 registers this one spelling).
  if (header.typ !== 'dpop+jwt') return refused('proof typ not dpop+jwt');
  // 5: an asymmetric algorithm this resource accepts (none and HS* never are).
  if (!policy.algorithms.includes(alg))
    return refused('proof alg not accepted', "The DPoP proof's algorithm is not accepted");
  // 6: the signature, with the public key in the header.
  const key = proofKey(header.jwk, alg);
  if (!key.ok) return refused(key.reason);
  if (!signatureMatches(alg, parsed.signingInput, parsed.signature, key.key))
    return refused('proof signature not valid', "The DPoP proof's signature is not valid");
  // 7: no private key (checked with the key, above). 8: htm.
  const { jti, htm, htu, iat, ath } = claims;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI)
    return refused('proof jti missing or too long');
  if (typeof htm !== 'string' || htm !== request.method)
    return refused('proof htm is not the request method', 'The DPoP proof is for another request');
  // 9: htu, against the configured public URL, never the Host header.
  const expected = expectedHtu(policy.base, request.target);
  if (typeof htu !== 'string' || expected === undefined || normalisedHtu(htu) !== expected)
    return refused('proof htu is not the request URL', 'The DPoP proof is for another request');
  // 11 (nonce) is the caller's. 12 (iat): within the window either way.
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return refused('proof iat missing or not a number');
  if (Math.abs(Date.now() / 1000 - iat) > policy.iatWindowSeconds)
    return refused('proof iat outside the window', 'The DPoP proof is too old or from the future');
  // Section 4.3, with an access token: ath is the hash of that token.
  if (typeof ath !== 'string' || ath !== hash('sha256', request.token, 'base64url'))
    return refused('proof ath does not match the token', 'The DPoP proof is not for this token');
  return { ok: true, proof: { thumbprint: key.thumbprint, jti, nonce: claims.nonce } };
}
