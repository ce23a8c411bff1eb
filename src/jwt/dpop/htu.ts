// DPoP's `htu` (RFC 9449 section 4.3, check 9): the proof's URL must be the one the request was
// sent to, compared without query and fragment, after RFC 3986 section 6.2.2 syntax-based
// normalisation. What the request was sent to is the configured public URL plus the request's
// path: never the Host header, which the client (or anyone in front) chooses.

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodings of unreserved characters decoded, every other one's hex in upper case. */
function normalisedEncoding(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * `scheme://host[:port]/path` of an absolute http(s) URL, normalised: scheme and host in lower
 * case, default port dropped, dot segments removed, percent-encoding normalised, empty path
 * as `/`; query and fragment left out. Undefined for anything else (a relative URL, user info,
 * another scheme).
 */
export function normalisedHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return `${url.protocol}//${url.host}${normalisedEncoding(url.pathname)}`;
}

/** The configured public URL, split once: its origin and base path (no trailing slash). */
export interface PublicBase {
  readonly origin: string;
  readonly basePath: string;
}

export function publicBase(publicUrl: string): PublicBase {
  const url = new URL(publicUrl);
  return { origin: `${url.protocol}//${url.host}`, basePath: url.pathname.replace(/\/+$/, '') };
}

/**
 * The htu this request must carry, normalised: the public base plus the path of the request
 * target (origin-form; the path of an absolute-form target). Undefined for a target with no
 * path (`*`, authority-form).
 */
export function expectedHtu(base: PublicBase, target: string): string | undefined {
  let path: string;
  if (target.startsWith('/')) {
    const end = target.search(/[?#]/);
    path = end === -1 ? target : target.slice(0, end);
  } else {
    try {
      path = new URL(target).pathname;
    } catch {
      return undefined;
    }
  }
  // `//x` would read as an authority: the base origin is written first, so it never is.
  return normalisedHtu(`${base.origin}${base.basePath}${path}`);
}
