import type { CacheOptions } from '../cache/bounded-cache.js';
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
