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
  const credential = existing === undefined ? undefined : inboundCredential(existing);
  if (credential !== undefined) rememberInboundCredential(merged, credential);
  return merged;
}

// The raw credential a scheme consumed stays reachable for backendAuth passthrough only: a
// symbol-keyed, non-enumerable slot is skipped by JSON.stringify, util.inspect's default view
// and object spread, so it never leaks into logs or responses by accident.
const credentialSlot = Symbol('portcullis.inboundCredential');

interface WithCredential {
  [credentialSlot]?: string;
}

/** Keeps the credential a scheme consumed, hidden, for `backendAuth` passthrough. */
export function rememberInboundCredential(auth: Auth, credential: string): void {
  Object.defineProperty(auth, credentialSlot, {
    value: credential,
    enumerable: false,
    configurable: true,
    writable: false,
  });
}

/** The credential the last successful scheme consumed, if any. */
export function inboundCredential(auth: Auth): string | undefined {
  return (auth as WithCredential)[credentialSlot];
}
