// Cookie headers are parsed by hand, narrowly: we only ever need one named cookie, and the
// header must be rewritten with every other cookie untouched, byte for byte.

function cookiePairs(header: string): string[] {
  return header.split(';').map((pair) => pair.trim());
}

function cookieName(pair: string): string {
  const eq = pair.indexOf('=');
  return (eq === -1 ? pair : pair.slice(0, eq)).trim();
}

function cookieValue(pair: string): string {
  const eq = pair.indexOf('=');
  let value = eq === -1 ? '' : pair.slice(eq + 1).trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Every value of the cookie `name` in a Cookie header. */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined || header === '') return [];
  return cookiePairs(header)
    .filter((pair) => cookieName(pair) === name)
    .map(cookieValue);
}

/** The Cookie header without the cookie `name`; undefined when nothing is left. */
export function withoutCookie(header: string, name: string): string | undefined {
  const kept = cookiePairs(header).filter((pair) => pair !== '' && cookieName(pair) !== name);
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** The Cookie header with `name` set to `value`, replacing any cookie of that name. */
export function withCookie(header: string | undefined, name: string, value: string): string {
  const rest = header === undefined ? undefined : withoutCookie(header, name);
  const pair = `${name}=${value}`;
  return rest === undefined ? pair : `${rest}; ${pair}`;
}
