import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'portcullis-tests';

/** A signing key made for the test, with its public JWK. */
export interface TestKey {
  kid: string;
  alg: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
}

export async function makeKey(alg = 'RS256', kid: string = randomUUID()): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export function jwks(...keys: TestKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}

export interface SignOptions {
  issuer?: string;
  audience?: string | string[] | null;
  expiresIn?: string | number | null;
  kid?: string | null;
  header?: Record<string, unknown>;
}

/** A token signed by `key`; pass null to leave a claim or the kid out. */
export async function sign(
  key: TestKey,
  claims: JWTPayload = {},
  options: SignOptions = {},
): Promise<string> {
  const header = {
    alg: key.alg,
    ...(options.kid === null ? {} : { kid: options.kid ?? key.kid }),
    ...options.header,
  };
  let jwt = new SignJWT({ sub: 'alice', scope: 'read write', ...claims })
    .setProtectedHeader(header as { alg: string })
    .setIssuedAt()
    .setIssuer(options.issuer ?? ISSUER);
  if (options.audience !== null) jwt = jwt.setAudience(options.audience ?? AUDIENCE);
  if (options.expiresIn !== null) jwt = jwt.setExpirationTime(options.expiresIn ?? '5m');
  return jwt.sign(key.privateKey);
}
