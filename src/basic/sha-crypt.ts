import { createHash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { encodeDigest } from './crypt-base64.js';

// Ulrich Drepper's SHA-crypt ($5$ SHA-256, $6$ SHA-512), as glibc and `openssl passwd -5/-6`
// write it. Its default 5000 rounds cost a few milliseconds of hashing, so the rounds run in
// slices that yield to the event loop: other requests wait at most one slice.

const ORDER_256 = [
  [0, 10, 20, 4],
  [21, 1, 11, 4],
  [12, 22, 2, 4],
  [3, 13, 23, 4],
  [24, 4, 14, 4],
  [15, 25, 5, 4],
  [6, 16, 26, 4],
  [27, 7, 17, 4],
  [18, 28, 8, 4],
  [9, 19, 29, 4],
  [-1, 31, 30, 3],
] as const;

const ORDER_512 = [
  [0, 21, 42, 4],
  [22, 43, 1, 4],
  [44, 2, 23, 4],
  [3, 24, 45, 4],
  [25, 46, 4, 4],
  [47, 5, 26, 4],
  [6, 27, 48, 4],
  [28, 49, 7, 4],
  [50, 8, 29, 4],
  [9, 30, 51, 4],
  [31, 52, 10, 4],
  [53, 11, 32, 4],
  [12, 33, 54, 4],
  [34, 55, 13, 4],
  [56, 14, 35, 4],
  [15, 36, 57, 4],
  [37, 58, 16, 4],
  [59, 17, 38, 4],
  [18, 39, 60, 4],
  [40, 61, 19, 4],
  [62, 20, 41, 4],
  [-1, -1, 63, 2],
] as const;

export const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
const SLICE_ROUNDS = 1000;

/** The parts of a `$5$` / `$6$` hash; `rounds` is undefined when the hash does not name them. */
export interface ShaCryptParams {
  variant: '5' | '6';
  rounds: number | undefined;
  salt: string;
}

const PATTERN = /^\$([56])\$(?:rounds=(\d{1,9})\$)?([^$]{0,16})\$([./0-9A-Za-z]+)$/;

export function parseShaCrypt(hash: string): ShaCryptParams | undefined {
  const match = PATTERN.exec(hash);
  if (!match) return undefined;
  const variant = match[1] as '5' | '6';
  if (match[4]!.length !== (variant === '5' ? 43 : 86)) return undefined;
  return { variant, rounds: match[2] === undefined ? undefined : Number(match[2]), salt: match[3]! };
}

function repeated(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += block.length) block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}

/** Computes the full `$5$` / `$6$` string for `password` with the parameters of a stored hash. */
export async function shaCrypt(password: Buffer, params: ShaCryptParams): Promise<string> {
  const algorithm = params.variant === '5' ? 'sha256' : 'sha512';
  const digest = (...parts: Buffer[]) => {
    const hash = createHash(algorithm);
    for (const part of parts) hash.update(part);
    return hash.digest();
  };
  const salt = Buffer.from(params.salt, 'utf8').subarray(0, 16);
  const rounds = Math.min(999_999_999, Math.max(MIN_ROUNDS, params.rounds ?? DEFAULT_ROUNDS));

  const alternate = digest(password, salt, password);
  const aParts: Buffer[] = [password, salt, repeated(alternate, password.length)];
  for (let bits = password.length; bits > 0; bits >>= 1) aParts.push(bits & 1 ? alternate : password);
  let current = digest(...aParts);

  const pBytes = repeated(
    digest(...Array.from({ length: password.length }, () => password)),
    password.length,
  );
  const sBytes = repeated(digest(...Array.from({ length: 16 + current[0]! }, () => salt)), salt.length);

  for (let round = 0; round < rounds; round++) {
    if (round > 0 && round % SLICE_ROUNDS === 0) await yieldToEventLoop();
    const hash = createHash(algorithm);
    hash.update(round & 1 ? pBytes : current);
    if (round % 3) hash.update(sBytes);
    if (round % 7) hash.update(pBytes);
    hash.update(round & 1 ? current : pBytes);
    current = hash.digest();
  }
  const prefix = params.rounds === undefined ? '' : `rounds=${rounds}$`;
  const encoded = encodeDigest(current, params.variant === '5' ? ORDER_256 : ORDER_512);
  return `$${params.variant}$${prefix}${params.salt.slice(0, 16)}$${encoded}`;
}
