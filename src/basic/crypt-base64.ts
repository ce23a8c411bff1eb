/** The crypt(3) alphabet shared by MD5-crypt, SHA-crypt and DES crypt. */
const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Appends `count` crypt-base64 characters of a 24-bit group, least significant first. */
export function encode24(high: number, mid: number, low: number, count: number): string {
  let value = (high << 16) | (mid << 8) | low;
  let out = '';
  for (let i = 0; i < count; i++) {
    out += ALPHABET[value & 0x3f];
    value >>>= 6;
  }
  return out;
}

/** Encodes a digest by a crypt scheme's byte order: triples of indexes (-1 = a zero byte). */
export function encodeDigest(
  digest: Uint8Array,
  order: readonly (readonly [number, number, number, number])[],
): string {
  const at = (index: number) => (index < 0 ? 0 : digest[index]!);
  return order.map(([a, b, c, count]) => encode24(at(a), at(b), at(c), count)).join('');
}
