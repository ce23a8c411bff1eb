import type { KeyObject } from 'node:crypto';

/** Asymmetric JWS algorithms, accepted by default. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** HMAC algorithms, only with an explicit `secret`; value: the minimum secret length in bytes. */
export const HMAC_ALGORITHMS: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

export function isHmac(alg: string): boolean {
  return Object.hasOwn(HMAC_ALGORITHMS, alg);
}

export function isAsymmetric(alg: string): boolean {
  return (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg);
}

const EC_CURVES: Readonly<Record<string, string>> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

/**
 * Whether a public key can verify `alg`. Checked before any verification so a key is only
 * ever used with the algorithm family it was made for (no algorithm confusion).
 */
export function keyFitsAlgorithm(key: KeyObject, alg: string): boolean {
  const type = key.asymmetricKeyType;
  if (alg.startsWith('RS') || alg.startsWith('PS'))
    return type === 'rsa' || (alg.startsWith('PS') && type === 'rsa-pss');
  if (alg.startsWith('ES')) return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === EC_CURVES[alg];
  if (alg === 'EdDSA') return type === 'ed25519' || type === 'ed448';
  if (alg === 'Ed25519') return type === 'ed25519';
  return false;
}
