/** A user and password from a `Basic` credential (RFC 7617). */
export interface BasicCredentials {
  username: string;
  password: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
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
 * Decodes `user:password`. Refused (undefined): base64 that is not canonical (so one
 * credential has one spelling), bytes that are not UTF-8, no colon, an empty user, control
 * characters. The password may contain colons: the split is at the first.
 */
export function decodeBasic(encoded: string): BasicCredentials | undefined {
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded) return undefined;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  const username = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (hasControlCharacter(username) || hasControlCharacter(password)) return undefined;
  return { username, password };
}
