import type { CacheOptions } from '../cache/bounded-cache.js';
import { type Hint, keysOf, withHints } from '../config/known-keys.js';
import type { CredentialLocation } from '../credentials/location.js';
import type { InboundOptions } from '../inbound.js';
import type { Logger } from '../logger.js';

/** Where a provider's public keys come from. */
export type JwksOption =
  /** A JWKS URL, fetched with a timeout, cached, refreshed on unknown kids. */
  | {
      url: string;
      /** Abort a fetch after this long. Default 5000. */
      timeoutMs?: number;
      /** At most one refetch for unknown kids per this many seconds. Default 30. */
      cooldownSeconds?: number;
    }
  /** A JWKS file, re-read when it changes (also when replaced by rename). */
  | { file: string }
  /** A JWKS object, or its JSON text. */
  | { inline: string | { keys: unknown[] } };

/** One token issuer and how its tokens are checked. */
export interface JwtProviderOptions {
  /** Must equal the token's `iss`. Required. */
  issuer: string;
  /** When set, `aud` is required and must contain one of these. */
  audiences?: readonly string[];
  /** Omitted with an https issuer: OIDC discovery finds `jwks_uri`. */
  jwks?: JwksOption;
  /**
   * Key fetches (`jwks.url`, OIDC discovery and the `jwks_uri` it names) never follow a
   * redirect: one is a failed fetch. `true` follows up to 3 redirects that keep the scheme,
   * host and port; a redirect to another origin is refused even then. Default false.
   */
  allowSameOriginRedirects?: boolean;
  /** A shared HMAC secret, only together with HS algorithms in `algorithms`; never with `jwks`. */
  secret?: string | Uint8Array;
  /** Accepted algorithms. Default: every asymmetric one (RS*, PS*, ES*, EdDSA). */
  algorithms?: readonly string[];
  /** Leeway for `exp` and `nbf`. Default 30. */
  clockSkewSeconds?: number;
  /** Claims that must be present. Default `["exp"]`. */
  requiredClaims?: readonly string[];
  /** Claim holding scopes. Default: `scope` (space-separated), else `scp` (array or string). */
  scopeClaim?: string;
}

/** Options of `jwtAuth()`: one provider inline, or several in `providers`. */
export interface JwtAuthOptions extends InboundOptions, Partial<JwtProviderOptions> {
  /** Several issuers; the provider is chosen by the token's `iss`, then by `kid`. */
  providers?: readonly JwtProviderOptions[];
  /** Where the token is read. Default `{ header: { name: "authorization", prefix: "Bearer " } }`. */
  location?: CredentialLocation;
  /** The realm in `WWW-Authenticate`. Default "api". */
  realm?: string;
  /** Longer tokens are refused before any parsing. Default 16384. */
  maxTokenLength?: number;
  /** Where warnings go (key fetch failures, reloads). Default: console.warn. */
  logger?: Logger;
  /**
   * Verified tokens are remembered by a SHA-256 digest of the whole token: a repeat skips the
   * signature but still checks `exp` and `nbf` against the clock, is dropped when its key
   * leaves the key set, and never outlives the token. Default `{ maxEntries: 10000,
   * ttlSeconds: 300 }`; `false` turns it off.
   */
  cache?: CacheOptions;
}

// What other JWT middlewares call their options (express-jwt, express-oauth2-jwt-bearer, koa-jwt,
// passport-jwt, jwks-rsa), for a user moving from one of them: each says what to write here.
const IDENTITY_IS_FIXED = { say: 'the identity is always `req.auth` (Express) / `ctx.state.auth` (Koa)' };
const USE_LOCATION = {
  say: 'use `location`: { header: { name, prefix } }, { queryParameter: { name } } or { cookie: { name } }',
};
const USE_MODE = { say: 'use `mode`: "strict" (the default), "optional" or "permissive"' };
const USE_RULES = { say: 'check other claims with authorize() rules on `jwt.<claim>`' };
const USE_JWKS = { say: 'give public keys as `jwks`: { url }, { file } or { inline }' };
const JWT_HINTS: Readonly<Record<string, Hint>> = {
  audience: 'audiences',
  aud: 'audiences',
  iss: 'issuer',
  issuerBaseURL: 'issuer',
  issuerUrl: 'issuer',
  authority: 'issuer',
  domain: 'issuer',
  jwksUri: 'jwks: { url }',
  jwksUrl: 'jwks: { url }',
  jwks_uri: 'jwks: { url }',
  jwk: 'jwks',
  keys: 'jwks',
  secretOrKey: { say: 'use `secret` for an HMAC secret, `jwks` for public keys' },
  secretOrKeyProvider: USE_JWKS,
  publicKey: USE_JWKS,
  key: { say: 'public keys go in `jwks`; the identity is always `req.auth` / `ctx.state.auth`' },
  cert: USE_JWKS,
  pem: USE_JWKS,
  algorithm: 'algorithms',
  alg: 'algorithms',
  tokenSigningAlg: 'algorithms',
  clockTolerance: 'clockSkewSeconds',
  leeway: 'clockSkewSeconds',
  credentialsRequired: USE_MODE,
  authRequired: USE_MODE,
  passthrough: USE_MODE,
  required: USE_MODE,
  optional: USE_MODE,
  strict: 'mode',
  getToken: USE_LOCATION,
  jwtFromRequest: USE_LOCATION,
  cookie: USE_LOCATION,
  header: USE_LOCATION,
  requestProperty: IDENTITY_IS_FIXED,
  userProperty: IDENTITY_IS_FIXED,
  resultProperty: IDENTITY_IS_FIXED,
  property: IDENTITY_IS_FIXED,
  tokenKey: { say: 'not supported: the raw token is never handed to the app' },
  isRevoked: { say: 'not supported yet: token revocation is planned for a later version' },
  onExpired: { say: 'not supported: an expired token is always refused (401 token_expired)' },
  ignoreExpiration: { say: 'not supported: `exp` is always checked (see `clockSkewSeconds`)' },
  maxAge: { say: 'not supported: a token is valid until its `exp`' },
  subject: USE_RULES,
  jwtid: USE_RULES,
  nonce: USE_RULES,
  validators: USE_RULES,
  scope: { say: 'use requireScopes() after jwtAuth (`scopeClaim` names the claim scopes are read from)' },
  scopes: { say: 'use requireScopes() after jwtAuth (`scopeClaim` names the claim scopes are read from)' },
  timeout: 'jwks: { url, timeoutMs }',
  timeoutDuration: 'jwks: { url, timeoutMs }',
  cooldownDuration: 'jwks: { url, cooldownSeconds }',
  jwksRequestsPerMinute: 'jwks: { url, cooldownSeconds }',
  rateLimit: 'jwks: { url, cooldownSeconds }',
  cacheMaxAge: { say: "keys are cached for the JWKS response's Cache-Control max-age" },
  complete: { say: 'not supported: the verified claims are on `auth.jwt`' },
  passReqToCallback: { say: 'not supported: use customAuth() for a check of your own' },
  jsonWebTokenOptions: { say: 'give the checks directly: audiences, algorithms, clockSkewSeconds, ...' },
  onError: 'delegateErrors',
  errorHandler: 'delegateErrors',
  debug: 'logger',
  unless: 'publicPaths',
  exclude: 'publicPaths',
  ignorePaths: 'publicPaths',
};

/** The keys of a provider, whether given at the top of jwtAuth or in `providers[i]`. */
const PROVIDER_KEY_RECORD = {
  issuer: true,
  audiences: true,
  jwks: true,
  secret: true,
  algorithms: true,
  clockSkewSeconds: true,
  requiredClaims: true,
  scopeClaim: true,
  allowSameOriginRedirects: true,
} as const satisfies Record<keyof JwtProviderOptions, true>;

export const JWT_AUTH_KEYS = keysOf<JwtAuthOptions>()(
  'jwtAuth',
  {
    ...PROVIDER_KEY_RECORD,
    providers: true,
    location: true,
    realm: true,
    maxTokenLength: true,
    logger: true,
    cache: true,
    mode: true,
    publicPaths: true,
    delegateErrors: true,
  },
  withHints(JWT_HINTS, { provider: 'providers', issuers: 'providers' }),
);

/** Options of the whole middleware, refused inside one entry of `providers`. */
const NOT_PER_PROVIDER = {
  say: 'it is an option of jwtAuth itself, not of one provider: move it to the top level',
};

export const JWT_PROVIDER_KEYS = keysOf<JwtProviderOptions>()(
  'a jwtAuth provider',
  PROVIDER_KEY_RECORD,
  withHints(
    JWT_HINTS,
    Object.fromEntries(
      JWT_AUTH_KEYS.names
        .filter((name) => !(name in PROVIDER_KEY_RECORD))
        .map((name) => [name, NOT_PER_PROVIDER]),
    ),
  ),
);

type UrlJwks = Extract<JwksOption, { url: string }>;
type FileJwks = Extract<JwksOption, { file: string }>;
type InlineJwks = Extract<JwksOption, { inline: unknown }>;

const JWKS_HINTS: Readonly<Record<string, Hint>> = {
  // An option of jwtAuth or of its provider written one level too deep.
  ...Object.fromEntries(
    JWT_AUTH_KEYS.names.map((name) => [name, { say: `it is an option beside \`jwks\`, not inside it` }]),
  ),
  uri: 'url',
  jwksUri: 'url',
  href: 'url',
  path: 'file',
  keys: { say: 'write the JWKS object as `jwks: { inline: { keys: [...] } }`' },
  timeout: 'timeoutMs',
  cooldown: 'cooldownSeconds',
};

/** Every key any form of `jwks` takes: a key outside all of them is a typo. */
export const JWKS_KEYS = keysOf<JwksOption>()(
  'jwks',
  { url: true, timeoutMs: true, cooldownSeconds: true, file: true, inline: true },
  JWKS_HINTS,
);

const URL_JWKS_KEYS = keysOf<UrlJwks>()('jwks { url }', {
  url: true,
  timeoutMs: true,
  cooldownSeconds: true,
});
/** What `{ file }` and `{ inline }` say of a key only `{ url }` takes. */
const ONLY_FOR_URL = Object.fromEntries(
  URL_JWKS_KEYS.names.map((name) => [name, { say: 'it applies to `jwks: { url }` only' }]),
);

/** The keys each form of `jwks` takes, once the form is known. */
export const JWKS_FORM_KEYS = {
  url: URL_JWKS_KEYS,
  file: keysOf<FileJwks>()('jwks { file }', { file: true }, ONLY_FOR_URL),
  inline: keysOf<InlineJwks>()('jwks { inline }', { inline: true }, ONLY_FOR_URL),
} as const;
