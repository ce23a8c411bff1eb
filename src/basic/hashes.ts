import { createHash, timingSafeEqual } from 'node:crypto';
import unixCrypt from 'unix-crypt-td-js';
import { bcryptCompare } from './bcrypt-pool.js';
import { md5Crypt } from './md5-crypt.js';
import { parseShaCrypt, type ShaCryptParams, shaCrypt } from './sha-crypt.js';

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

function sameText(computed: string, stored: string): boolean {
  const a = Buffer.from(computed, 'utf8');
  const b = Buffer.from(stored, 'utf8');
  if (a.length !== b.length) {
    // Hashes of one kind have one length; this only happens for a malformed stored hash.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Whether `password` matches; bcrypt off the event loop, SHA-crypt in yielding slices. */
export async function verifyPassword(stored: StoredHash, password: string): Promise<boolean> {
  const bytes = Buffer.from(password, 'utf8');
  switch (stored.kind) {
    case 'apr1':
      return sameText(md5Crypt(bytes, stored.salt), stored.hash);
    case 'bcrypt':
      // bcrypt reads at most 72 bytes; bcryptjs also does, so long passwords behave as Apache's.
      return bcryptCompare(password, stored.hash);
    case 'sha1':
      return sameText(`{SHA}${createHash('sha1').update(bytes).digest('base64')}`, stored.hash);
    case 'sha-crypt':
      return sameText(await shaCrypt(bytes, stored.params), stored.hash);
    case 'des':
      return sameText(unixCrypt(password, stored.hash.slice(0, 2)), stored.hash);
  }
}
