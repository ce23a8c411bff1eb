// Ulrich Drepper's SHA-crypt ($5$ SHA-256, $6$ SHA-512), as glibc and `openssl passwd -5/-6`
// write it. Only parsed here, at load; the hash itself is computed in a hashing worker
// (./hash-worker-source.ts), since its rounds cost milliseconds to seconds of CPU.

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
