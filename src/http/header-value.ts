/**
 * True when `text` can be written as a header value as it is: Latin-1, with no CR, LF, NUL or
 * other control character (tab aside). Node would throw on some of these and silently mangle
 * the rest; a header-splitting CR/LF must never reach the wire.
 */
export function isHeaderSafe(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f || code > 0xff) return false;
  }
  return true;
}
