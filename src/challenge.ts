// Challenge strings, one function per scheme. Values are quoted-string safe because every
// description portcullis writes is a fixed English sentence without quotes or backslashes.

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

const RFC6750_ERRORS: Record<string, string> = {
  invalid_request: 'invalid_request',
  invalid_token: 'invalid_token',
  token_expired: 'invalid_token',
  invalid_credentials: 'invalid_token',
  insufficient_scope: 'insufficient_scope',
};

/** RFC 6750 section 3: no error attributes when no credential was presented. */
export function bearerChallenge(
  realm: string,
  problem?: { code: string; description: string; scope?: string },
): string {
  let challenge = `Bearer realm=${quoted(realm)}`;
  if (problem === undefined) return challenge;
  const error = RFC6750_ERRORS[problem.code];
  if (error !== undefined)
    challenge += `, error=${quoted(error)}, error_description=${quoted(problem.description)}`;
  if (problem.scope !== undefined) challenge += `, scope=${quoted(problem.scope)}`;
  return challenge;
}

/** RFC 7617: the realm, and UTF-8 as the charset credentials are decoded with. */
export function basicChallenge(realm: string): string {
  return `Basic realm=${quoted(realm)}, charset="UTF-8"`;
}

/** Realms end up inside a header: refuse what could break out of the quoted string. */
export function isSafeRealm(realm: string): boolean {
  if (realm.length === 0 || realm.length > 200) return false;
  for (const char of realm) {
    const code = char.charCodeAt(0);
    if (code < 0x20 || code === 0x7f || char === '"' || char === '\\') return false;
  }
  return true;
}
