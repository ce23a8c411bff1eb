import { createHash } from 'node:crypto';
import { encodeDigest } from './crypt-base64.js';

const md5 = (...parts: Uint8Array[]) => {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

const ORDER = [
  [0, 6, 12, 4],
  [1, 7, 13, 4],
  [2, 8, 14, 4],
  [3, 9, 15, 4],
  [4, 10, 5, 4],
  [-1, -1, 11, 2],
] as const;

/**
 * MD5-crypt as Apache's `$apr1$` uses it (the algorithm of FreeBSD's `$1$` with another
 * magic string): 1000 rounds of MD5, about a millisecond, so it runs on the event loop.
 */
export function md5Crypt(password: Uint8Array, salt: string, magic = '$apr1$'): string {
  const saltBytes = Buffer.from(salt.slice(0, 8), 'utf8');
  const magicBytes = Buffer.from(magic, 'utf8');
  const alternate = md5(password, saltBytes, password);
  const parts: Uint8Array[] = [password, magicBytes, saltBytes];
  for (let left = password.length; left > 0; left -= 16)
    parts.push(alternate.subarray(0, Math.min(16, left)));
  const zero = Buffer.from([0]);
  const first = password.subarray(0, 1);
  for (let bits = password.length; bits > 0; bits >>= 1) parts.push(bits & 1 ? zero : first);
  let digest = md5(...parts);
  for (let round = 0; round < 1000; round++) {
    const hash = createHash('md5');
    hash.update(round & 1 ? password : digest);
    if (round % 3) hash.update(saltBytes);
    if (round % 7) hash.update(password);
    hash.update(round & 1 ? digest : password);
    digest = hash.digest();
  }
  return `${magic}${salt.slice(0, 8)}$${encodeDigest(digest, ORDER)}`;
}
