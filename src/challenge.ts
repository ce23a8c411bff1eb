import type { CredentialLocation } from './credentials/location.js';

// Challenge strings (RFC 7235 section 2.1). Values are quoted-string safe: realms are checked
// at start-up (isSafeRealm), location names are tokens, and every description portcullis
// writes is a fixed English sentence; quoted() escapes anyway.

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** RFC 6750 section 3: the realm alone (no error attributes: nothing was presented). */
export function bearerChallenge(realm: string): string {
  return `Bearer realm=${quoted(realm)}`;
}

/**
 * RFC 9449 section 7.1: the DPoP challenge, with the realm and the proof algorithms accepted;
 * with a refusal's `error` and `error_description` between them when one is given.
 */
export function dpopChallenge(
  realm: string,
  algorithms: readonly string[],
  error?: { code: string; description: string },
): string {
  const attributes =
    error === undefined
      ? ''
      : `, error=${quoted(error.code)}, error_description=${quoted(error.description)}`;
  return `DPoP realm=${quoted(realm)}${attributes}, algs=${quoted(algorithms.join(' '))}`;
}

/** RFC 7617: the realm, and UTF-8 as the charset credentials are decoded with. */
export function basicChallenge(realm: string): string {
  return `Basic realm=${quoted(realm)}, charset="UTF-8"`;
}

/**
 * A scheme's own challenge for a location no RFC scheme covers (a cookie, a query parameter,
 * another header): it names where the credential goes, e.g. `ApiKey realm="api", header="x-api-key"`.
 */
export function namedChallenge(scheme: string, realm: string, location: CredentialLocation): string {
  const where =
    'header' in location
      ? `header=${quoted(location.header.name.toLowerCase())}`
      : 'queryParameter' in location
        ? `query=${quoted(location.queryParameter.name)}`
        : `cookie=${quoted(location.cookie.name)}`;
  return `${scheme} realm=${quoted(realm)}, ${where}`;
}

/** A challenge with the refusal's `error` and `error_description` (RFC 6750 section 3 form). */
export function withError(challenge: string, error: string, description: string): string {
  return `${challenge}, error=${quoted(error)}, error_description=${quoted(description)}`;
}

/**
 * Realms end up inside a header: printable ASCII only, without what could break out of the
 * quoted string. Anything above 0x7E is refused too: Node throws on a header character above
 * 0xFF (every refusal would become a 500 with the framework's error page), and 0x80-0xFF goes
 * out as Latin-1 bytes that no client reads as the UTF-8 the configuration meant.
 */
export function isSafeRealm(realm: string): boolean {
  if (realm.length === 0 || realm.length > 200) return false;
  for (let i = 0; i < realm.length; i++) {
    const code = realm.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return false;
  }
  return true;
}
