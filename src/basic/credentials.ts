/** A user and password from a `Basic` credential (RFC 7617). */
export interface BasicCredentials {
  username: string;
  password: string;
}

/**
 * Length caps, checked before anything is decoded or hashed. The cost of SHA-crypt and apr1
 * grows with the password's length (SHA-crypt's with its square), so without them one header
 * of a few kilobytes buys a client a second of CPU.
 */
export interface BasicLimits {
  maxUsernameBytes: number;
  maxPasswordBytes: number;
  /** The base64 of the longest `user:password` the two caps admit. */
  maxEncodedLength: number;
}

/** Apache's htpasswd refuses longer user names (255 bytes), so no htpasswd entry has one. */
export const MAX_USERNAME_BYTES = 255;

export function basicLimits(maxPasswordBytes: number): BasicLimits {
  const decoded = MAX_USERNAME_BYTES + 1 + maxPasswordBytes;
  return {
    maxUsernameBytes: MAX_USERNAME_BYTES,
    maxPasswordBytes,
    maxEncodedLength: Math.ceil(decoded / 3) * 4,
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const COLON = 0x3a;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // C0, DEL and the C1 range: none belongs in a user name or password typed by a person.
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/**
 * Decodes `user:password`. Refused (undefined): base64 longer than the caps allow (before it
 * is decoded), a user or password over its cap in UTF-8 bytes, base64 that is not canonical
 * (so one credential has one spelling), bytes that are not UTF-8, no colon, an empty user,
 * control characters. The password may contain colons: the split is at the first.
 */
export function decodeBasic(encoded: string, limits: BasicLimits): BasicCredentials | undefined {
  if (encoded.length > limits.maxEncodedLength) return undefined;
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded) return undefined;
  // A colon byte never occurs inside a multi-byte UTF-8 character: the first one is the split.
  const colon = bytes.indexOf(COLON);
  if (colon <= 0 || colon > limits.maxUsernameBytes) return undefined;
  if (bytes.length - colon - 1 > limits.maxPasswordBytes) return undefined;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  const split = text.indexOf(':');
  const username = text.slice(0, split);
  const password = text.slice(split + 1);
  if (hasControlCharacter(username) || hasControlCharacter(password)) return undefined;
  return { username, password };
}
