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

/**
 * What one scheme proved on one request, as the pipeline attaches it: the scheme's part of the
 * identity, and what is kept beside the identity (see mergeAuth).
 */
export interface Proven {
  readonly identity: AuthPart;
  /** The scheme that consumed the credential: the credential is filed under it. */
  readonly method: string;
  readonly credential: string;
  /** An API-key record's `"*"`: every scope. Only the apiKey scheme grants it. */
  readonly allScopes: boolean;
}

// Kept beside the identity, not on it: JSON.stringify, util.inspect and object spread of
// req.auth never see these, and nothing a client or an issuer sends can reach them.
// - The raw credentials the schemes consumed, for backendAuth passthrough only, so they never
//   leak into logs or responses by accident. They are kept per scheme, so a passthrough of the
//   JWT can never forward a Basic password that ran after it. A Map, not a null-prototype
//   record: a record is a dictionary-mode object whose every write goes through the runtime
//   (measured on the cached-token path, BENCHMARKS.md).
// - "Every scope", a grant an API-key record makes (`scopes: ["*"]`), never a scope value: a
//   token's `scope: "*"` or a custom provider's `scopes: ["*"]` is the literal scope named "*",
//   and `auth.scopes` stays a plain list of strings.
// One WeakMap entry per identity holds both: it costs a fraction of defining a hidden property
// on every identity, and the grant once had WeakSets of its own, two more ephemeron inserts
// per request (about 2.8k instructions, BENCHMARKS.md). A class, not an object literal: V8 tracks
// a literal's allocation site and deoptimizes mergeAuth once it decides where such objects live.
class Beside {
  constructor(
    readonly credentials: Map<string, string>,
    readonly allScopes: boolean,
  ) {}
}
const besideByAuth = new WeakMap<Auth, Beside>();

/** True when an API-key record on this identity granted every scope. */
export function hasAllScopes(auth: Auth): boolean {
  return besideByAuth.get(auth)?.allScopes === true;
}

/**
 * Folds one scheme's proven part into what earlier schemes attached: scopes are unioned, and
 * the credentials and the grant of every scope are carried to the new identity.
 */
export function mergeAuth(existing: Auth | undefined, proven: Proven): Auth {
  const part = proven.identity;
  const credentials = new Map<string, string>();
  let allScopes = proven.allScopes;
  let auth: Auth;
  if (existing === undefined) {
    // The usual case, one scheme per request, skips the union (this runs on every request).
    const granted = part.scopes ?? [];
    auth = { ...part, scopes: granted.length < 2 ? [...granted] : [...new Set(granted)] };
  } else {
    const scopes = new Set(existing.scopes);
    for (const scope of part.scopes ?? []) scopes.add(scope);
    auth = { ...existing, ...part, scopes: [...scopes] };
    const before = besideByAuth.get(existing);
    if (before !== undefined) {
      for (const [method, credential] of before.credentials) credentials.set(method, credential);
      allScopes ||= before.allScopes;
    }
  }
  // Filed under the scheme that consumed it, never under the method an identity claims: a
  // custom provider answering method 'jwt' must not turn its API key into a passthrough token.
  credentials.set(proven.method, proven.credential);
  besideByAuth.set(auth, new Beside(credentials, allScopes));
  return auth;
}

/**
 * The scheme name mcpAuth files its token under: never 'jwt', so `backendAuth({ passthrough })`
 * (which forwards the 'jwt' credential) can never forward an MCP client's token, and can tell
 * that one was consumed on this request (and refuse: MCP forbids token passthrough).
 */
export const MCP_METHOD = 'mcp';

/**
 * Whether `value` is an identity the inbound pipeline built: mergeAuth keeps what it consumed
 * beside every identity it makes, so that record doubles as the set of portcullis identities. A
 * second weak collection of them cost every authenticated Express request one more insertion
 * (the middleware 1.3k instructions, express-jwt-new, callgrind).
 */
export function isInboundIdentity(value: object): value is Auth {
  return besideByAuth.has(value as Auth);
}

/**
 * The credential the scheme `method` consumed on this request ('jwt' by default: the token
 * `backendAuth({ passthrough })` forwards), if it authenticated one.
 */
export function inboundCredential(auth: Auth, method = 'jwt'): string | undefined {
  return besideByAuth.get(auth)?.credentials.get(method);
}
