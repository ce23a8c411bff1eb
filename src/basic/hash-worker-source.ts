/**
 * The code of a password-hashing worker thread, as plain JavaScript text.
 *
 * Every slow hash of an htpasswd file (bcrypt, SHA-crypt, Apache MD5, DES crypt) is computed
 * here and nowhere else, so the event loop only posts messages. It is text, not a module,
 * because a worker must load it the same way from the TypeScript sources (vitest, tsx) and
 * from the bundles (ESM and CommonJS), where no module file of its own exists: the pool starts
 * it with `eval: true`. bcryptjs and unix-crypt-td-js are required by the paths the pool
 * resolves. The test vectors of test/basic-auth.test.ts (real htpasswd, openssl and crypt
 * output) check each algorithm.
 *
 * A job is `{ id, stored, password }` (`stored` is a StoredHash of ./hashes.ts, the password a
 * string already bounded by basicAuth's length caps); the answer is `{ id, ok }`.
 */
export const HASH_WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, timingSafeEqual } = require('node:crypto');
const bcrypt = require(workerData.bcryptPath);
const unixCrypt = require(workerData.unixCryptPath);

// The crypt(3) alphabet, and each scheme's digest byte order as triples (-1 = a zero byte)
// with the number of characters each triple gives.
const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ORDER_MD5 = [[0,6,12,4],[1,7,13,4],[2,8,14,4],[3,9,15,4],[4,10,5,4],[-1,-1,11,2]];
const ORDER_256 = [[0,10,20,4],[21,1,11,4],[12,22,2,4],[3,13,23,4],[24,4,14,4],[15,25,5,4],
  [6,16,26,4],[27,7,17,4],[18,28,8,4],[9,19,29,4],[-1,31,30,3]];
const ORDER_512 = [[0,21,42,4],[22,43,1,4],[44,2,23,4],[3,24,45,4],[25,46,4,4],[47,5,26,4],
  [6,27,48,4],[28,49,7,4],[50,8,29,4],[9,30,51,4],[31,52,10,4],[53,11,32,4],[12,33,54,4],
  [34,55,13,4],[56,14,35,4],[15,36,57,4],[37,58,16,4],[59,17,38,4],[18,39,60,4],[40,61,19,4],
  [62,20,41,4],[-1,-1,63,2]];

function encodeDigest(digest, order) {
  let out = '';
  for (const [a, b, c, count] of order) {
    let value = ((a < 0 ? 0 : digest[a]) << 16) | ((b < 0 ? 0 : digest[b]) << 8) | (c < 0 ? 0 : digest[c]);
    for (let i = 0; i < count; i++) {
      out += ALPHABET[value & 0x3f];
      value >>>= 6;
    }
  }
  return out;
}

function digestOf(algorithm, parts) {
  const hash = createHash(algorithm);
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function repeated(block, length) {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += block.length) block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}

// MD5-crypt as Apache's $apr1$ uses it (FreeBSD's $1$ algorithm with another magic string).
function apr1(password, salt) {
  const saltBytes = Buffer.from(salt, 'utf8');
  const alternate = digestOf('md5', [password, saltBytes, password]);
  const parts = [password, Buffer.from('$apr1$'), saltBytes];
  for (let left = password.length; left > 0; left -= 16) parts.push(alternate.subarray(0, Math.min(16, left)));
  const zero = Buffer.from([0]);
  const first = password.subarray(0, 1);
  for (let bits = password.length; bits > 0; bits >>= 1) parts.push(bits & 1 ? zero : first);
  let digest = digestOf('md5', parts);
  for (let round = 0; round < 1000; round++) {
    const hash = createHash('md5');
    hash.update(round & 1 ? password : digest);
    if (round % 3) hash.update(saltBytes);
    if (round % 7) hash.update(password);
    hash.update(round & 1 ? digest : password);
    digest = hash.digest();
  }
  return '$apr1$' + salt + '$' + encodeDigest(digest, ORDER_MD5);
}

// Ulrich Drepper's SHA-crypt ($5$ SHA-256, $6$ SHA-512), as glibc and openssl passwd write it.
// Rounds below 1000 count as 1000; the pool's caller bounds them from above at load.
function shaCrypt(password, params) {
  const algorithm = params.variant === '5' ? 'sha256' : 'sha512';
  const salt = Buffer.from(params.salt, 'utf8').subarray(0, 16);
  const rounds = Math.max(1000, params.rounds === undefined ? 5000 : params.rounds);
  const alternate = digestOf(algorithm, [password, salt, password]);
  const aParts = [password, salt, repeated(alternate, password.length)];
  for (let bits = password.length; bits > 0; bits >>= 1) aParts.push(bits & 1 ? alternate : password);
  let current = digestOf(algorithm, aParts);
  const pBytes = repeated(digestOf(algorithm, Array(password.length).fill(password)), password.length);
  const sBytes = repeated(digestOf(algorithm, Array(16 + current[0]).fill(salt)), salt.length);
  for (let round = 0; round < rounds; round++) {
    const hash = createHash(algorithm);
    hash.update(round & 1 ? pBytes : current);
    if (round % 3) hash.update(sBytes);
    if (round % 7) hash.update(pBytes);
    hash.update(round & 1 ? current : pBytes);
    current = hash.digest();
  }
  const prefix = params.rounds === undefined ? '' : 'rounds=' + rounds + '$';
  const encoded = encodeDigest(current, params.variant === '5' ? ORDER_256 : ORDER_512);
  return '$' + params.variant + '$' + prefix + params.salt.slice(0, 16) + '$' + encoded;
}

function sameText(computed, stored) {
  const a = Buffer.from(computed, 'utf8');
  const b = Buffer.from(stored, 'utf8');
  // Hashes of one kind have one length; a difference only comes from a malformed stored hash.
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

function verify(stored, password) {
  switch (stored.kind) {
    case 'bcrypt':
      // bcrypt reads at most 72 bytes, as Apache's does.
      return bcrypt.compareSync(password, stored.hash);
    case 'apr1':
      return sameText(apr1(Buffer.from(password, 'utf8'), stored.salt), stored.hash);
    case 'sha-crypt':
      return sameText(shaCrypt(Buffer.from(password, 'utf8'), stored.params), stored.hash);
    case 'des':
      return sameText(unixCrypt(password, stored.hash.slice(0, 2)), stored.hash);
    default:
      return false;
  }
}

parentPort.on('message', ({ id, stored, password }) => {
  let ok = false;
  try { ok = verify(stored, password) === true; } catch { ok = false; }
  parentPort.postMessage({ id, ok });
});
`;
