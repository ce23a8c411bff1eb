/**
 * The verified claims of a JWT, on `auth.jwt`. The registered claims are typed; every other
 * claim reads as `unknown` until you declare it, once, for the whole project:
 *
 * @example
 * ```ts
 * declare module 'portcullis' {
 *   interface JwtClaims {
 *     email?: string;
 *     groups?: readonly string[];
 *   }
 * }
 * // then: req.auth?.jwt?.email is string | undefined
 * ```
 *
 * Declarations are trusted, not checked: a token's claims are what its issuer signed. Claims
 * are shared by every request presenting the token and frozen (deeply): they are read-only.
 */
export interface JwtClaims {
  readonly iss?: string;
  readonly sub?: string;
  readonly aud?: string | readonly string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly jti?: string;
  /** Space-separated scopes (RFC 8693), when the issuer sends them so. */
  readonly scope?: string;
  readonly [claim: string]: unknown;
}

/**
 * The claims a custom provider returned (`AuthResult.ok({ claims })`), on `auth.claims`.
 * Augmentable like {@link JwtClaims}.
 */
export interface CustomClaims {
  [claim: string]: unknown;
}

/**
 * The scheme that authenticated: the built-in ones, or the `method` a custom provider names
 * (any other string, kept open so that it still completes the three built-in names).
 */
export type AuthMethod = 'jwt' | 'basic' | 'apiKey' | (string & {});

/**
 * The identity the inbound middlewares attach: `req.auth` (Express), `ctx.state.auth` (Koa).
 * Several schemes can run in a row; each adds its part (see {@link mergeAuth}).
 * It never holds a password, an API key or a raw token.
 */
export interface Auth {
  /** jwt `sub` | basic username | API key name | custom subject */
  subject?: string;
  /**
   * Union of the scopes every scheme granted: RFC 6749 scope-tokens only. `"*"` here is a plain
   * string; only an API-key record's `["*"]` grants every scope (see requireScopes).
   */
  scopes: string[];
  /** The last scheme that succeeded: 'jwt' | 'basic' | 'apiKey' | a custom name. */
  method?: AuthMethod;
  /** Verified JWT claims, frozen: declare your own claims on {@link JwtClaims}. */
  jwt?: Readonly<JwtClaims>;
  basicAuth?: { username: string };
  apiKey?: { name: string; scopes: string[]; metadata: Record<string, unknown> };
  /** Claims from a custom provider. */
  claims?: CustomClaims;
}

/** What one scheme contributes; `scopes` may be omitted. */
export type AuthPart = Omit<Auth, 'scopes'> & { scopes?: readonly string[] };

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * RFC 6749 section 3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, printable ASCII
 * without space, `"` and `\`. Only such strings ever become scopes on an identity, so every
 * consumer (requireScopes, CEL rules, forwarded headers) sees the same, unambiguous set.
 */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

// "Every scope" is a grant an API-key record makes (`scopes: ["*"]`), never a scope value: a
// token's `scope: "*"` or a custom provider's `scopes: ["*"]` is the literal scope named "*".
// So the grant is recorded beside the identity, out of reach of anything a client or issuer
// sends: only the apiKey scheme marks its part (grantAllScopes), and mergeAuth carries the mark
// to every identity folded from a marked one. WeakSets, like the credentials below: nothing on
// `req.auth` to spread, stringify or forge, and `auth.scopes` stays a plain list of strings.
const allScopesParts = new WeakSet<AuthPart>();
const allScopesAuths = new WeakSet<Auth>();

/** Marks the part of an API key whose record grants every scope. Internal: not exported publicly. */
export function grantAllScopes<T extends AuthPart>(part: T): T {
  allScopesParts.add(part);
  return part;
}

/** True when an API-key record on this identity granted every scope. */
export function hasAllScopes(auth: Auth): boolean {
  return allScopesAuths.has(auth);
}

/** Folds one scheme's part into what earlier schemes attached (scopes are unioned). */
export function mergeAuth(existing: Auth | undefined, part: AuthPart): Auth {
  // The usual case, one scheme per request, skips the union (this runs on every request).
  if (existing === undefined) {
    const granted = part.scopes ?? [];
    const auth = { ...part, scopes: granted.length < 2 ? [...granted] : [...new Set(granted)] };
    if (allScopesParts.has(part)) allScopesAuths.add(auth);
    return auth;
  }
  const scopes = new Set(existing.scopes);
  for (const scope of part.scopes ?? []) scopes.add(scope);
  const merged: Auth = { ...existing, ...part, scopes: [...scopes] };
  if (allScopesAuths.has(existing) || allScopesParts.has(part)) allScopesAuths.add(merged);
  for (const [method, credential] of credentialsOf(existing)) {
    rememberInboundCredential(merged, method, credential);
  }
  return merged;
}

// The raw credentials the schemes consumed stay reachable for backendAuth passthrough only.
// They live beside the identity, not on it: JSON.stringify, util.inspect and object spread of
// req.auth never see them, so they never leak into logs or responses by accident. They are
// kept per scheme, so a passthrough of the JWT can never forward a Basic password that ran
// after it. (A WeakMap also costs a fraction of defining a hidden property on every identity.)
// A Map, not a null-prototype record: a record is a dictionary-mode object whose every write
// goes through the runtime (measured on the cached-token path, BENCHMARKS.md).
const credentialsByAuth = new WeakMap<Auth, Map<string, string>>();
const NONE: ReadonlyMap<string, string> = new Map();

function credentialsOf(auth: Auth): ReadonlyMap<string, string> {
  return credentialsByAuth.get(auth) ?? NONE;
}

/**
 * The scheme name mcpAuth files its token under: never 'jwt', so `backendAuth({ passthrough })`
 * (which forwards the 'jwt' credential) can never forward an MCP client's token, and can tell
 * that one was consumed on this request (and refuse: MCP forbids token passthrough).
 */
export const MCP_METHOD = 'mcp';

/** Keeps the credential the scheme `method` consumed, hidden, for `backendAuth` passthrough. */
export function rememberInboundCredential(auth: Auth, method: string, credential: string): void {
  const credentials = credentialsByAuth.get(auth);
  if (credentials !== undefined) credentials.set(method, credential);
  else credentialsByAuth.set(auth, new Map<string, string>().set(method, credential));
}

/**
 * Whether `value` is an identity the inbound pipeline built: each one it hands an adapter has
 * its consumed credential recorded here first (Inbound.accept), so this record doubles as the
 * set of portcullis identities. A second weak collection of them cost every authenticated
 * Express request one more insertion (the middleware 1.3k instructions, express-jwt-new,
 * callgrind).
 */
export function isInboundIdentity(value: object): value is Auth {
  return credentialsByAuth.has(value as Auth);
}

/**
 * The credential the scheme `method` consumed on this request ('jwt' by default: the token
 * `backendAuth({ passthrough })` forwards), if it authenticated one.
 */
export function inboundCredential(auth: Auth, method = 'jwt'): string | undefined {
  return credentialsOf(auth).get(method);
}
