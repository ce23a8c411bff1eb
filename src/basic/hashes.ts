import { createHash, timingSafeEqual } from 'node:crypto';
import { verifyInPool } from './hash-pool.js';
import { parseShaCrypt, type ShaCryptParams } from './sha-crypt.js';

/** The hash formats an htpasswd file may hold. */
export type HashKind = 'apr1' | 'bcrypt' | 'sha1' | 'sha-crypt' | 'des';

/** One stored password hash, parsed once at load. */
export type StoredHash =
  | { kind: 'apr1'; hash: string; salt: string }
  | { kind: 'bcrypt'; hash: string; cost: number }
  | { kind: 'sha1'; hash: string }
  | { kind: 'sha-crypt'; hash: string; params: ShaCryptParams }
  | { kind: 'des'; hash: string };

const APR1 = /^\$apr1\$([^$]{0,8})\$[./0-9A-Za-z]{22}$/;
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const SHA1 = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;
const DES = /^[./0-9A-Za-z]{13}$/;

/** Recognises a hash; undefined for plaintext or anything unknown. */
export function parseHash(hash: string): StoredHash | undefined {
  let match = APR1.exec(hash);
  if (match) return { kind: 'apr1', hash, salt: match[1]! };
  match = BCRYPT.exec(hash);
  if (match) return { kind: 'bcrypt', hash, cost: Number(match[1]) };
  if (SHA1.test(hash)) return { kind: 'sha1', hash };
  const params = parseShaCrypt(hash);
  if (params) return { kind: 'sha-crypt', hash, params };
  if (DES.test(hash)) return { kind: 'des', hash };
  return undefined;
}

/**
 * Whether `password` matches. `{SHA}` is one SHA-1 of a length-capped password, a few
 * microseconds: it is computed here. Every other kind is computed in the hashing workers.
 */
export function verifyPassword(stored: StoredHash, password: string): Promise<boolean> {
  if (stored.kind !== 'sha1') return verifyInPool(stored, password);
  const computed = Buffer.from(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`);
  // Both are 33 bytes: the load-time pattern admits no other length.
  return Promise.resolve(timingSafeEqual(computed, Buffer.from(stored.hash)));
}
