/**
 * The identity the inbound middlewares attach: `req.auth` (Express), `ctx.state.auth` (Koa).
 * Several schemes can run in a row; each adds its part (see {@link mergeAuth}).
 * It never holds a password, an API key or a raw token.
 */
export interface Auth {
  /** jwt `sub` | basic username | API key name | custom subject */
  subject?: string;
  /** Union of the scopes every scheme granted. */
  scopes: string[];
  /** The last scheme that succeeded: 'jwt' | 'basic' | 'apiKey' | a custom name. */
  method?: string;
  /** Verified JWT claims. */
  jwt?: Record<string, unknown>;
  basicAuth?: { username: string };
  apiKey?: { name: string; scopes: string[]; metadata: Record<string, unknown> };
  /** Claims from a custom provider. */
  claims?: Record<string, unknown>;
}

/** What one scheme contributes; `scopes` may be omitted. */
export type AuthPart = Omit<Auth, 'scopes'> & { scopes?: readonly string[] };

/** Folds one scheme's part into what earlier schemes attached (scopes are unioned). */
export function mergeAuth(existing: Auth | undefined, part: AuthPart): Auth {
  const scopes = new Set(existing?.scopes ?? []);
  for (const scope of part.scopes ?? []) scopes.add(scope);
  const merged: Auth = { ...existing, ...part, scopes: [...scopes] };
  if (existing !== undefined) {
    for (const [method, credential] of credentialsOf(existing))
      rememberInboundCredential(merged, method, credential);
  }
  return merged;
}

// The raw credentials the schemes consumed stay reachable for backendAuth passthrough only: a
// symbol-keyed, non-enumerable slot is skipped by JSON.stringify, util.inspect's default view
// and object spread, so they never leak into logs or responses by accident. They are kept per
// scheme, so a passthrough of the JWT can never forward a Basic password that ran after it.
const credentialSlot = Symbol('portcullis.inboundCredentials');

interface WithCredentials {
  [credentialSlot]?: Map<string, string>;
}

function credentialsOf(auth: Auth): ReadonlyMap<string, string> {
  return (auth as WithCredentials)[credentialSlot] ?? new Map();
}

/** Keeps the credential the scheme `method` consumed, hidden, for `backendAuth` passthrough. */
export function rememberInboundCredential(auth: Auth, method: string, credential: string): void {
  const holder = auth as WithCredentials;
  let credentials = holder[credentialSlot];
  if (credentials === undefined) {
    credentials = new Map();
    Object.defineProperty(auth, credentialSlot, {
      value: credentials,
      enumerable: false,
      configurable: false,
      writable: false,
    });
  }
  credentials.set(method, credential);
}

/**
 * The credential the scheme `method` consumed on this request ('jwt' by default: the token
 * `backendAuth({ passthrough })` forwards), if it authenticated one.
 */
export function inboundCredential(auth: Auth, method = 'jwt'): string | undefined {
  return credentialsOf(auth).get(method);
}
