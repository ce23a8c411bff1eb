import { CACHE_OPTIONS, type CacheOptions } from '../cache/bounded-cache.js';
import { INBOUND_SHAPE, REALM } from '../config/inbound-shape.js';
import { type Hint, knownKeys, unknownKeyProblem, withHints } from '../config/known-keys.js';
import {
  bounded,
  flag,
  knownKeysOf,
  lockedTo,
  narrowed,
  optionsObject,
  refined,
  refuse,
  text,
  whole,
  z,
} from '../config/schema.js';
import { CREDENTIAL_LOCATION, type CredentialLocation } from '../credentials/location.js';
import type { InboundOptions } from '../inbound.js';
import { LOGGER, type Logger } from '../logger.js';
import { isAsymmetric, isHmac } from './algorithms.js';
import { DPOP_OPTIONS, type DpopOptions } from './dpop/options.js';
import { MTLS_OPTIONS, type MtlsOptions } from './mtls/options.js';
import { checkProvider } from './provider-checks.js';
import { REVOCATION_OPTIONS, type RevocationOptions } from './revocations.js';

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

const STRINGS = 'must be an array of non-empty strings';
const strings = () => z.array(text(STRINGS), { error: STRINGS });
const JWKS_RSA_SECRET =
  "is a function (jwks-rsa's expressJwtSecret?): give the JWKS URL as `jwks: { url }` instead";

/** Every key any form of `jwks` takes, each with the form it belongs to. */
const JWKS_SHAPE = {
  url: z.string({ error: 'is not a URL' }),
  timeoutMs: bounded(0, 60_000, 'must be a number greater than 0 and at most 60000', {
    exclusiveMinimum: true,
  }),
  cooldownSeconds: bounded(0, 3600, 'must be a number greater than 0 and at most 3600', {
    exclusiveMinimum: true,
  }),
  file: text('must be a path'),
  // Checked where it is parsed into keys (KeySet.parse), whose messages say what is wrong inside.
  inline: z.custom<string | { keys: unknown[] }>(),
};
type JwksForm = 'url' | 'file' | 'inline';
const JWKS_FORM_NAMES: Readonly<Record<JwksForm, readonly (keyof typeof JWKS_SHAPE)[]>> = {
  url: ['url', 'timeoutMs', 'cooldownSeconds'],
  file: ['file'],
  inline: ['inline'],
};

/** The keys of a provider, whether given at the top of jwtAuth or in `providers[i]`. */
export const PROVIDER_SHAPE = {
  issuer: text('is required: tokens are only accepted from a known issuer'),
  audiences: whole(strings().min(1, { error: 'is empty: list the accepted audiences, or leave it out' }))
    .readonly()
    .optional(),
  get jwks() {
    return JWKS.optional();
  },
  allowSameOriginRedirects: flag().optional(),
  secret: z
    .union([z.string(), z.custom<Uint8Array>((value) => value instanceof Uint8Array)], {
      error: (issue) =>
        typeof issue.input === 'function' ? JWKS_RSA_SECRET : 'must be a string or a Uint8Array',
    })
    .optional(),
  algorithms: whole(
    z
      .array(
        z.string({ error: STRINGS }).refine((alg) => isAsymmetric(alg) || isHmac(alg), {
          error: (issue) => `"${String(issue.input)}" is not a supported signature algorithm`,
        }),
        { error: STRINGS },
      )
      .min(1, { error: 'must list at least one algorithm' }),
  )
    .readonly()
    .optional(),
  clockSkewSeconds: bounded(0, 600, 'must be a number of seconds between 0 and 600').optional(),
  requiredClaims: whole(strings()).readonly().optional(),
  scopeClaim: text('must be a claim name').optional(),
};

/** The options of jwtAuth itself, besides those of its one provider. */
export const OWN_SHAPE = {
  get providers() {
    return z.array(PROVIDER, { error: 'must be a non-empty array' }).min(1).readonly().optional();
  },
  location: CREDENTIAL_LOCATION.optional(),
  realm: REALM.optional(),
  maxTokenLength: z.int({ error: 'must be an integer >= 64' }).min(64).optional(),
  logger: LOGGER.optional(),
  cache: CACHE_OPTIONS.optional(),
  revocations: REVOCATION_OPTIONS.optional(),
  mtls: MTLS_OPTIONS.optional(),
  dpop: DPOP_OPTIONS.optional(),
};
// What other JWT middlewares call their options (express-jwt, express-oauth2-jwt-bearer, koa-jwt,
// passport-jwt, jwks-rsa), for a user moving from one of them: each says what to write here.
const IDENTITY_IS_FIXED = { say: 'the identity is always `req.auth` (Express) / `ctx.state.auth` (Koa)' };
const USE_LOCATION = {
  say: 'use `location`: { header: { name, prefix } }, { queryParameter: { name } } or { cookie: { name } }',
};
const USE_MODE = { say: 'use `mode`: "strict" (the default), "optional" or "permissive"' };
const USE_RULES = { say: 'check other claims with authorize() rules on `jwt.<claim>`' };
const USE_JWKS = { say: 'give public keys as `jwks`: { url }, { file } or { inline }' };
export const JWT_HINTS: Readonly<Record<string, Hint>> = {
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
  isRevoked: { say: "use `revocations` and the middleware's revoke({ jti | sub })" },
  revoked: 'revocations',
  revocation: 'revocations',
  blacklist: 'revocations',
  denylist: 'revocations',
  onExpired: { say: 'not supported: an expired token is always refused (401, "The token has expired")' },
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

const OWN_NAMES = [...Object.keys(OWN_SHAPE), ...Object.keys(INBOUND_SHAPE)];

/** Options of the whole middleware, refused inside one entry of `providers`. */
const NOT_PER_PROVIDER = {
  say: 'it is an option of jwtAuth itself, not of one provider: move it to the top level',
};

/** One token issuer and how its tokens are checked: an entry of `providers`. */
const PROVIDER = optionsObject(
  'a jwtAuth provider',
  PROVIDER_SHAPE,
  withHints(JWT_HINTS, Object.fromEntries(OWN_NAMES.map((name) => [name, NOT_PER_PROVIDER]))),
);

const JWKS_HINTS: Readonly<Record<string, Hint>> = {
  // An option of jwtAuth or of its provider written one level too deep.
  ...Object.fromEntries(
    [...Object.keys(PROVIDER_SHAPE), ...OWN_NAMES].map((name) => [
      name,
      { say: `it is an option beside \`jwks\`, not inside it` },
    ]),
  ),
  // One spelling: the option covers discovery too, which has no jwks object to hold it.
  allowSameOriginRedirects: {
    say: 'it is a provider option: write `allowSameOriginRedirects` beside `jwks`, not inside it',
  },
  uri: 'url',
  jwksUri: 'url',
  href: 'url',
  path: 'file',
  keys: { say: 'write the JWKS object as `jwks: { inline: { keys: [...] } }`' },
  timeout: 'timeoutMs',
  cooldown: 'cooldownSeconds',
};

/** What `{ file }` and `{ inline }` say of a key only `{ url }` takes. */
const ONLY_FOR_URL = Object.fromEntries(
  JWKS_FORM_NAMES.url.map((name) => [name, { say: 'it applies to `jwks: { url }` only' }]),
);
/** The keys each form of `jwks` takes, once the form is known. */
const JWKS_FORM_KEYS = {
  url: knownKeys('jwks { url }', JWKS_FORM_NAMES.url),
  file: knownKeys('jwks { file }', JWKS_FORM_NAMES.file, ONLY_FOR_URL),
  inline: knownKeys('jwks { inline }', JWKS_FORM_NAMES.inline, ONLY_FOR_URL),
} as const;

/**
 * The schema of {@link JwksOption}: every key of every form is known (a key outside all of them
 * is a typo); then exactly one form, with the keys of that form only.
 */
const JWKS = narrowed<JwksOption>()(
  refined(
    optionsObject('jwks', partial(JWKS_SHAPE), JWKS_HINTS, 'must be { url }, { file } or { inline }'),
    (jwks, ctx) => {
      const given = (['url', 'file', 'inline'] as const).filter((form) => jwks[form] !== undefined);
      // Two sources in one jwks used to be settled by a silent precedence (url first).
      if (given.length > 1) {
        const both = given.map((form) => `\`${form}\``).join(' and ');
        return refuse(ctx, `gives both ${both}: one provider has one key source`);
      }
      const form = given[0];
      if (form === undefined) return refuse(ctx, 'must be { url }, { file } or { inline }');
      for (const key of Object.keys(jwks) as (keyof typeof JWKS_SHAPE)[]) {
        if (jwks[key] !== undefined && !JWKS_FORM_NAMES[form].includes(key))
          return refuse(ctx, unknownKeyProblem(key, JWKS_FORM_KEYS[form]), key);
      }
    },
  ),
);

/** The shape with every key optional. */
export function partial<Shape extends z.ZodRawShape>(
  shape: Shape,
): { [K in keyof Shape]: z.ZodOptional<Shape[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([key, schema]) => [key, z.optional(schema)])) as {
    [K in keyof Shape]: z.ZodOptional<Shape[K]>;
  };
}

/** Provider options that only one provider can have: with `providers`, they go in each entry. */
const PROVIDER_ONLY = ['issuer', 'audiences', 'jwks', 'secret', 'allowSameOriginRedirects'] as const;

/**
 * The schema of {@link JwtAuthOptions}: one provider inline, or several in `providers` (then the
 * top-level validation settings are defaults each provider may override). The semantic checks of
 * each provider (secrets, algorithms, key sources) run once its options are merged.
 */
export const JWT_AUTH_OPTIONS = refined(
  optionsObject(
    'jwtAuth',
    { ...partial(PROVIDER_SHAPE), ...OWN_SHAPE, ...INBOUND_SHAPE },
    withHints(JWT_HINTS, { provider: 'providers', issuers: 'providers' }),
  ),
  (options, ctx) => {
    if (options.dpop !== undefined && !isBearerAuthorization(options.location))
      return refuse(
        ctx,
        'cannot be used with `dpop`: DPoP tokens travel in the Authorization header (Bearer or DPoP scheme)',
        'location',
      );
    if (options.providers === undefined) {
      if (options.issuer === undefined)
        return refuse(ctx, 'is required: tokens are only accepted from a known issuer', 'issuer');
      return checkProvider({ ...options, issuer: options.issuer }, ctx, []);
    }
    for (const name of PROVIDER_ONLY) {
      if (options[name] !== undefined)
        return refuse(ctx, 'belongs inside each entry of `providers` when `providers` is set', name);
    }
    mergedProviders(options).forEach((provider, index) => {
      checkProvider(provider, ctx, ['providers', index]);
    });
  },
);

/** The default location, or the same written out: where DPoP needs the token. */
export function isBearerAuthorization(location: CredentialLocation | undefined): boolean {
  if (location === undefined) return true;
  if (!('header' in location)) return false;
  const { name, prefix } = location.header;
  return name.toLowerCase() === 'authorization' && prefix?.trim().toLowerCase() === 'bearer';
}

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

lockedTo<JwtProviderOptions, z.output<typeof PROVIDER>>(true);

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
   * Verified tokens are remembered (the tokens themselves, in memory, found by the end of their
   * signature and confirmed whole): a repeat skips the signature but still checks `exp` and
   * `nbf` against the clock, revocations and sender constraints, is dropped when its key leaves
   * the key set, and never outlives the token. Default `{ maxEntries: 10000, ttlSeconds: 300 }`;
   * `false` turns it off (no token is then kept past its request).
   */
  cache?: CacheOptions;
  /**
   * Where `revoke({ jti | sub })` keeps revocations, checked on every request (cached tokens
   * included) from a local copy; while the store's copy is not fresh every token is refused
   * with 503 and Retry-After. Default: a memory store of this middleware's own, entries kept
   * 86400 s unless `revoke()` says `until`.
   */
  revocations?: RevocationOptions;
  /**
   * RFC 8705 certificate-bound tokens: a token whose `cnf["x5t#S256"]` is set is accepted only
   * when it is the SHA-256 thumbprint of the request's client certificate (of the TLS
   * connection, or of `certificateHeader` set by a trusted proxy). Without `mtls`, such tokens
   * are refused. Tokens without `cnf` are not affected.
   */
  mtls?: MtlsOptions;
  /**
   * DPoP (RFC 9449): tokens bound to a client key, each request signed by a proof in the `DPoP`
   * header. With it, `Authorization: DPoP <token>` is read beside `Bearer` (the token must stay
   * in the Authorization header: `location` is refused with it). A token with `cnf.jkt` is
   * accepted only with a valid proof for that key, whatever the mode.
   */
  dpop?: DpopOptions;
}

lockedTo<JwtAuthOptions, z.output<typeof JWT_AUTH_OPTIONS>>(true);

/** The validation settings a top-level option gives every provider that does not set its own. */
const SHARED = ['algorithms', 'clockSkewSeconds', 'requiredClaims', 'scopeClaim'] as const;

/**
 * The providers of parsed options, each with the top-level validation settings it does not
 * override; the options themselves when `providers` is not given.
 */
export function mergedProviders(options: JwtAuthOptions): JwtProviderOptions[] {
  if (options.providers === undefined) return [options as JwtProviderOptions];
  const shared: Partial<JwtProviderOptions> = {};
  for (const name of SHARED)
    if (options[name] !== undefined) Object.assign(shared, { [name]: options[name] });
  return options.providers.map((provider) => {
    const merged: Record<string, unknown> = { ...shared };
    // Parsed options are plain objects of known keys: `undefined` means not given.
    for (const [name, value] of Object.entries(provider)) if (value !== undefined) merged[name] = value;
    return merged as unknown as JwtProviderOptions;
  });
}

/** The known keys of jwtAuth, derived from its schema (for tests and messages). */
export const JWT_AUTH_KEYS = knownKeysOf(JWT_AUTH_OPTIONS);
