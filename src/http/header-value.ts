/**
 * True when `text` can be written as a header value exactly as it is: printable ASCII (space to
 * `~`) only. This is the one predicate for every value portcullis writes unencoded (secrets,
 * credential prefixes, cloud tokens). It refuses every C0 control (TAB too: no credential has
 * one, and a header-splitting CR/LF must never reach the wire), DEL, every C1 control (U+0085
 * NEL is a line break to some decoders) and anything above U+007E: Node sends U+0080-U+00FF as
 * one raw byte each, which an upstream reading UTF-8 gets as another text (`é` is not the
 * bytes `C3 A9` the operator's UTF-8 file held), and mangles the rest.
 */
export function isHeaderSafe(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

/**
 * The printable ASCII bytes an identity value keeps as they are: RFC 3986 unreserved, plus
 * `@ : /` so that e-mail addresses and `tenant/user` stay readable. Everything else, `%` and
 * `,` (the list separator) and `+` (a space to form decoders) among it, is percent-encoded.
 */
const KEPT = (() => {
  const kept = new Uint8Array(128);
  for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~@:/') {
    kept[char.charCodeAt(0)] = 1;
  }
  return kept;
})();

const HEX = '0123456789ABCDEF';

function percent(byte: number): string {
  return `%${HEX[byte >> 4]}${HEX[byte & 0x0f]}`;
}

/**
 * One element of a forwarded identity value: the UTF-8 bytes of `text`, percent-encoded
 * (upper-case hex) outside {@link KEPT}, so `decodeURIComponent` (JS), `urllib.parse.unquote`
 * (Python), `rawurldecode`/`urldecode` (PHP), `url.PathUnescape` (Go) give `text` back exactly.
 * Undefined when `text` holds a control character (C0 incl. TAB, DEL, C1 incl. U+0085) or a
 * lone UTF-16 surrogate (no UTF-8 for it: writing U+FFFD instead would be a different value).
 */
export function encodeIdentityElement(text: string): string | undefined {
  let i = 0;
  // The usual value (an id, an e-mail address) has nothing to encode: returned as it is.
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code >= 0x80 || KEPT[code] !== 1) break;
    i++;
  }
  if (i === text.length) return text;
  let out = text.slice(0, i);
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      if (KEPT[code] === 1) out += text[i];
      else if (code < 0x20 || code === 0x7f) return undefined;
      else out += percent(code);
    } else if (code < 0xa0) {
      return undefined; // C1 controls
    } else if (code < 0x800) {
      out += percent(0xc0 | (code >> 6)) + percent(0x80 | (code & 0x3f));
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const low = text.charCodeAt(i + 1);
      if (code > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) return undefined;
      const point = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
      out +=
        percent(0xf0 | (point >> 18)) +
        percent(0x80 | ((point >> 12) & 0x3f)) +
        percent(0x80 | ((point >> 6) & 0x3f)) +
        percent(0x80 | (point & 0x3f));
      i++;
    } else {
      out +=
        percent(0xe0 | (code >> 12)) + percent(0x80 | ((code >> 6) & 0x3f)) + percent(0x80 | (code & 0x3f));
    }
  }
  return out;
}

/** The longest identity header value written (encoded); nginx's default header line is 8 KiB. */
export const MAX_IDENTITY_VALUE = 8192;

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  return undefined;
}

/**
 * A forwarded identity value as one header value, or undefined when it cannot be written
 * unambiguously (the header is then left absent). A string, number or boolean is one element;
 * a list is its elements joined with `,`, each encoded by {@link encodeIdentityElement}, so an
 * element with a comma stays one element. An empty list is the empty value (RFC 9110 5.6.1:
 * empty list elements are ignored); a list with an empty element, a nested list, an object,
 * null, a non-finite number or a value over {@link MAX_IDENTITY_VALUE} bytes is refused.
 */
export function identityHeaderValue(value: unknown): string | undefined {
  let encoded: string | undefined;
  if (Array.isArray(value)) {
    encoded = '';
    for (let i = 0; i < value.length; i++) {
      const text = scalarText(value[i]);
      if (text === undefined || text === '') return undefined;
      const element = encodeIdentityElement(text);
      if (element === undefined) return undefined;
      encoded = i === 0 ? element : `${encoded},${element}`;
      if (encoded.length > MAX_IDENTITY_VALUE) return undefined;
    }
  } else {
    const text = scalarText(value);
    encoded = text === undefined ? undefined : encodeIdentityElement(text);
  }
  return encoded === undefined || encoded.length > MAX_IDENTITY_VALUE ? undefined : encoded;
}
