import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { keyFitsAlgorithm } from './algorithms.js';

/** One imported public key of a JWKS. */
export interface VerificationKey {
  readonly kid: string | undefined;
  /** The JWK's own `alg`, when it pins one. */
  readonly alg: string | undefined;
  readonly key: KeyObject;
}

const MIN_RSA_BITS = 2048;
/**
 * Bounds on what a key server can make each token cost: a token without `kid` is tried
 * against every fitting key, and an RSA verification grows with the modulus and exponent.
 * Real identity providers publish a handful of keys, 2048-4096 bits, exponent 65537.
 */
export const MAX_JWKS_KEYS = 100;
const MAX_RSA_BITS = 8192;
const MAX_RSA_EXPONENT = 2n ** 32n;

/**
 * The usable keys of one JWKS, imported once. Keys that cannot be used for signature
 * verification (symmetric, encryption-only, malformed, weak RSA) are skipped and counted.
 */
export class KeySet {
  readonly keys: readonly VerificationKey[];
  readonly skipped: number;
  private readonly byKid: Map<string, VerificationKey[]>;
  private readonly objects: ReadonlySet<KeyObject>;

  private constructor(keys: VerificationKey[], skipped: number) {
    this.keys = keys;
    this.skipped = skipped;
    this.byKid = new Map();
    this.objects = new Set(keys.map((key) => key.key));
    for (const key of keys) {
      if (key.kid === undefined) continue;
      const list = this.byKid.get(key.kid) ?? [];
      list.push(key);
      this.byKid.set(key.kid, list);
    }
  }

  /** Parses a JWKS object or its JSON text; throws when it is not a JWKS at all. */
  static parse(input: unknown): KeySet {
    let document = input;
    if (typeof document === 'string') {
      try {
        document = JSON.parse(document);
      } catch {
        throw new Error('is not valid JSON');
      }
    }
    const keys = (document as { keys?: unknown } | null)?.keys;
    if (typeof document !== 'object' || document === null || !Array.isArray(keys)) {
      throw new Error('is not a JWKS (an object with a "keys" array)');
    }
    // Refused whole rather than cut: the key a token needs could be the one left out.
    if (keys.length > MAX_JWKS_KEYS)
      throw new Error(`has ${keys.length} keys; at most ${MAX_JWKS_KEYS} are accepted`);
    const usable: VerificationKey[] = [];
    let skipped = 0;
    for (const jwk of keys) {
      const key = importVerificationKey(jwk);
      if (key === undefined) skipped++;
      else usable.push(key);
    }
    return new KeySet(usable, skipped);
  }

  /** Whether this exact imported key is in the set (cached verifications depend on it). */
  contains(key: KeyObject): boolean {
    return this.objects.has(key);
  }

  hasKid(kid: string): boolean {
    return this.byKid.has(kid);
  }

  /** The keys that may verify a token with this `kid` (or, without one, any fitting key) and `alg`. */
  candidates(kid: string | undefined, alg: string): VerificationKey[] {
    const pool = kid === undefined ? this.keys : (this.byKid.get(kid) ?? []);
    return pool.filter((key) => (key.alg === undefined || key.alg === alg) && keyFitsAlgorithm(key.key, alg));
  }
}

function importVerificationKey(jwk: unknown): VerificationKey | undefined {
  if (typeof jwk !== 'object' || jwk === null) return undefined;
  const { kty, kid, alg, use, key_ops: keyOps } = jwk as Record<string, unknown>;
  // Symmetric keys never come from a JWKS: that is how HS256-with-a-public-key attacks start.
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') return undefined;
  if (use !== undefined && use !== 'sig') return undefined;
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) return undefined;
  if (kid !== undefined && typeof kid !== 'string') return undefined;
  if (alg !== undefined && typeof alg !== 'string') return undefined;
  let key: KeyObject;
  try {
    const {
      d: _d,
      p: _p,
      q: _q,
      dp: _dp,
      dq: _dq,
      qi: _qi,
      oth: _oth,
      ...publicPart
    } = jwk as Record<string, unknown>;
    key = createPublicKey({ key: publicPart as JsonWebKey, format: 'jwk' });
  } catch {
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    const exponent = key.asymmetricKeyDetails?.publicExponent ?? 0n;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS || exponent > MAX_RSA_EXPONENT) return undefined;
  }
  return { kid, alg, key };
}
