import { REALM } from './config/inbound-shape.js';
import { parseOptions } from './config/schema.js';
import { type CredentialLocation, type Locator, locator } from './credentials/location.js';
import type { RequestHost } from './http/request-host.js';
import type { AuthPart } from './identity.js';
import { type Logger, loggerOption } from './logger.js';
import type { ChallengeDeclaration, CredentialCode, DpopAsking } from './refusals.js';

/**
 * Why a scheme refused, or could not check, a credential. No HTTP in it: the pipeline
 * (src/inbound.ts) turns it into a status, a challenge and a body (src/refusals.ts).
 * `reason` is for the debug log: a fixed phrase that tells one cause from another
 * (`missing claim "aud"`, `signature not valid`), never credential content.
 */
export type Problem =
  /**
   * The credential is not accepted; `description` is the fixed sentence the client reads.
   * `headers`: sent with the refusal as they are (DPoP's `DPoP-Nonce`).
   */
  | { code: CredentialCode; reason: string; description: string; headers?: Readonly<Record<string, string>> }
  /** It cannot be checked now (a key source down, the hash pool full): 503, Retry-After. */
  | { code: 'unavailable'; reason: string; retryAfterSeconds: number }
  /** The request path cannot be read unambiguously, and the scheme decides on it: 400. */
  | { code: 'ambiguous_path'; reason: string }
  /** A header the scheme reads was sent twice or under another spelling (`client_cert`): 400. */
  | { code: 'ambiguous_header'; reason: string };

/** What one scheme says about the credential it was handed. */
/** `headers`: response headers to send with the accepted request's response (a fresh `DPoP-Nonce`). */
export type Verdict =
  | {
      ok: true;
      identity: AuthPart;
      headers?: Readonly<Record<string, string>>;
      /** Every scope: an API-key record's `"*"`. Only the apiKey scheme sets it (see Proven). */
      allScopes?: true;
    }
  | { ok: false; problem: Problem };

/**
 * One inbound scheme (jwt, basic, apiKey, custom) reduced to what differs between schemes:
 * how it checks a credential. Where the credential is, how the scheme asks for it, modes,
 * stripping, refusals and identity attachment belong to the pipeline (src/inbound.ts).
 */
export interface Authenticator {
  /**
   * Checks a credential found at the scheme's location. Never throws for bad input.
   * `presented`: the auth-scheme the client used, in lower case (`bearer`, `dpop`), when the
   * scheme's locator reads several (jwt with `dpop`); undefined otherwise.
   */
  authenticate(credential: string, host: RequestHost, presented?: string): Verdict | Promise<Verdict>;
  /** Releases timers, watchers and connections. */
  close(): Promise<void>;
}

/** What a scheme declares about itself; the pipeline reads the shared options with it. */
export interface SchemeDeclaration {
  /** The `method` recorded on the identity and named in logs: 'jwt', 'basic', 'apiKey', 'custom'. */
  readonly method: string;
  readonly challenge: ChallengeDeclaration;
  readonly defaultRealm: string;
  readonly defaultLocation: CredentialLocation;
}

/** The options every scheme shares, checked once by the pipeline and handed to the scheme. */
export interface SchemeContext {
  readonly locator: Locator;
  readonly realm: string;
  readonly logger: Logger;
  /** How the scheme asks for DPoP-bound tokens, when it takes them (jwt with `dpop`). */
  readonly dpop?: DpopAsking;
}

/**
 * Checks `logger`, `realm` and `location` of one scheme's options with their schemas (LOGGER,
 * REALM, CREDENTIAL_LOCATION); ConfigError names the field.
 */
export function schemeContext(
  options: { location?: CredentialLocation; realm?: string; logger?: Logger },
  declared: SchemeDeclaration,
): SchemeContext {
  const logger = loggerOption(options.logger);
  const realm = parseOptions(REALM, options.realm ?? declared.defaultRealm, 'realm');
  return { locator: locator(options.location, 'location', declared.defaultLocation), realm, logger };
}
