import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { keyFitsAlgorithm } from '../algorithms.js';

// The `jwk` header of a DPoP proof: the client's public key, which signs the proof and which a
// bound token names by its RFC 7638 thumbprint (`cnf.jkt`).

/** Members that only a private or symmetric key has: a proof carrying one is refused. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** RFC 7638 section 3.2: the required members of each key type, in lexicographic order. */
const REQUIRED_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/** RSA keys shorter than this are refused (NIST SP 800-131A). */
const MIN_RSA_BITS = 2048;

/** RSA public exponents below this are refused (NIST SP 800-56B: 65537 <= e < 2^256). */
const MIN_RSA_EXPONENT = 65537n;

export type ProofKey = { ok: true; key: KeyObject; thumbprint: string } | { ok: false; reason: string };

/**
 * The proof's public key, checked for `alg`, with its RFC 7638 SHA-256 thumbprint. Only the
 * required members are read (and imported): anything else in the header cannot change the
 * key nor its thumbprint.
 */
export function proofKey(jwk: unknown, alg: string): ProofKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    return { ok: false, reason: 'jwk header missing or not an object' };
  const given = jwk as Record<string, unknown>;
  for (const member of PRIVATE_MEMBERS)
    if (Object.hasOwn(given, member)) return { ok: false, reason: 'jwk header holds a private key member' };
  const kty = given.kty;
  const required =
    typeof kty === 'string' && Object.hasOwn(REQUIRED_MEMBERS, kty) ? REQUIRED_MEMBERS[kty] : undefined;
  if (required === undefined) return { ok: false, reason: 'jwk kty not EC, RSA or OKP' };
  const canonical: Record<string, string> = {};
  for (const member of required) {
    const value = given[member];
    if (typeof value !== 'string' || value === '' || value.length > 2048)
      return { ok: false, reason: `jwk member "${member}" missing or not a string` };
    canonical[member] = value;
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: canonical as never, format: 'jwk' });
  } catch {
    return { ok: false, reason: 'jwk not a valid public key' };
  }
  if (key.type !== 'public') return { ok: false, reason: 'jwk not a public key' };
  if (!keyFitsAlgorithm(key, alg)) return { ok: false, reason: 'jwk does not fit the proof alg' };
  if (key.asymmetricKeyType === 'rsa') {
    const details = key.asymmetricKeyDetails;
    if ((details?.modulusLength ?? 0) < MIN_RSA_BITS)
      return { ok: false, reason: 'jwk RSA key shorter than 2048 bits' };
    // With e = 1 any padded digest is its own signature: anyone could sign for the key.
    const exponent = details?.publicExponent ?? 0n;
    if (exponent < MIN_RSA_EXPONENT || exponent % 2n === 0n)
      return { ok: false, reason: 'jwk RSA public exponent not an odd number of at least 65537' };
  }
  // JSON.stringify keeps insertion order, which is the required lexicographic one.
  const thumbprint = hash('sha256', JSON.stringify(canonical), 'base64url');
  return { ok: true, key, thumbprint };
}
