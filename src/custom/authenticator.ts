import type { IncomingHttpHeaders } from 'node:http';
import {
  type Authenticator,
  type SchemeContext,
  type SchemeDeclaration,
  schemeContext,
  type Verdict,
} from '../authenticator.js';
import { INBOUND_SHAPE, REALM } from '../config/inbound-shape.js';
import { lockedTo, optionsObject, parseOptions, z } from '../config/schema.js';
import { BEARER_LOCATION, CREDENTIAL_LOCATION, type CredentialLocation } from '../credentials/location.js';
import { fullTarget } from '../http/paths.js';
import type { RequestHost } from '../http/request-host.js';
import { type AuthPart, isScopeToken } from '../identity.js';
import type { InboundOptions } from '../inbound.js';
import { LOGGER, type Logger } from '../logger.js';
import { errorClass, logText } from '../logging/log-text.js';
import { AuthResult } from './auth-result.js';

/** What a custom provider sees of the request (read-only by contract). */
export interface CustomAuthRequest {
  method: string;
  /**
   * The canonical path, as rules and public paths see it (see the README): the full path the
   * app routes on, without the query. A request whose path is ambiguous is refused (400)
   * before the provider is asked.
   */
  path: string;
  /** `path` and the query string as the client sent it. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** Your own credential check. `close()` is called by the middleware's `close()`. */
export interface AuthProvider {
  authenticate(credential: string, request: CustomAuthRequest): AuthResult | Promise<AuthResult>;
  close?(): void | Promise<void>;
}

/** The schema of {@link CustomAuthOptions}. */
export const CUSTOM_AUTH_OPTIONS = optionsObject(
  'customAuth',
  {
    location: CREDENTIAL_LOCATION.optional(),
    realm: REALM.optional(),
    logger: LOGGER.optional(),
    ...INBOUND_SHAPE,
  },
  {
    authenticate: { say: 'it belongs on the provider, the first argument: customAuth(provider, options)' },
    provider: { say: 'the provider is the first argument: customAuth(provider, options)' },
  },
);

/** Options of `customAuth()`. */
export interface CustomAuthOptions extends InboundOptions {
  /** Default `Authorization: Bearer`. */
  location?: CredentialLocation;
  /** The realm in `WWW-Authenticate`. Default "api". */
  realm?: string;
  /**
   * Told when the provider throws (warn; the error's kind, never its text) and a denial's
   * reason (info, or warn without info; the credential redacted). Default: the console.
   */
  logger?: Logger;
}

lockedTo<CustomAuthOptions, z.output<typeof CUSTOM_AUTH_OPTIONS>>(true);

/** The first argument of `customAuth()`: checked for its method only (its other members are its own). */
const AUTH_PROVIDER = z.custom<AuthProvider>(
  (value) => typeof (value as Partial<AuthProvider> | null)?.authenticate === 'function',
  { error: 'must have an authenticate(credential, request) method' },
);

// The response to a denial is always this fixed sentence: the provider's reason is its own text
// and may hold anything (the token it was handed, a user name, a DSN), and the README promises
// that no credential ever reaches a response. The reason goes to the log instead.
const DENIED = 'The credential was not accepted';
const MAX_LOGGED_REASON = 200;

/**
 * How customAuth asks: Bearer at `Authorization: Bearer`, elsewhere (a session cookie, another
 * header) a `Custom` challenge naming the location: not RFC 6750, which it is not.
 */
export const CUSTOM_SCHEME: SchemeDeclaration = {
  method: 'custom',
  challenge: { standard: 'Bearer', named: 'Custom' },
  defaultRealm: 'api',
  defaultLocation: BEARER_LOCATION,
};

/** A custom provider as an {@link Authenticator}; `context` is what the pipeline checked. */
export function customAuthenticator(
  given: AuthProvider,
  optionsGiven: CustomAuthOptions = {},
  context: SchemeContext = schemeContext(optionsGiven, CUSTOM_SCHEME),
): Authenticator {
  // Every key again, `logger`, `realm` and `location` included (already checked: they pass).
  parseOptions(CUSTOM_AUTH_OPTIONS, optionsGiven);
  const provider = parseOptions(AUTH_PROVIDER, given, 'provider');
  const logger = context.logger;

  const authenticator: Authenticator = {
    async authenticate(credential: string, host: RequestHost): Promise<Verdict> {
      const path = host.path;
      // The provider may decide on the path: it gets the canonical one or none at all.
      if (path === undefined)
        return { ok: false, problem: { code: 'ambiguous_path', reason: 'request path ambiguous' } };
      const request: CustomAuthRequest = {
        method: host.message.method ?? 'GET',
        path,
        url: fullTarget(path, host.message.url),
        headers: host.message.headers,
      };
      let result: unknown;
      let threw = false;
      try {
        result = await provider.authenticate(credential, request);
      } catch (error) {
        // A provider's exception text may carry anything (a DSN, the token): it is neither
        // shown nor logged; the operator learns that it threw, and what kind of error it was.
        logger.warn(`customAuth provider threw (${errorClass(error)}); the request was refused`);
        threw = true;
      }
      if (!(result instanceof AuthResult) || !result.ok) {
        const reason = result instanceof AuthResult ? result.reason : undefined;
        if (typeof reason === 'string' && reason !== '') {
          const line = `customAuth provider denied the credential: "${logText(reason, MAX_LOGGED_REASON, [credential])}"`;
          if (typeof logger.info === 'function') logger.info(line);
          else logger.warn(line);
        }
        // The debug reason is fixed: the provider's own text went to the info line above.
        const why = threw
          ? 'provider threw'
          : result instanceof AuthResult
            ? 'provider denied'
            : 'provider answered no AuthResult';
        return { ok: false, problem: { code: 'invalid_credentials', reason: why, description: DENIED } };
      }
      const granted = result.identity ?? {};
      const identity: AuthPart = {
        // Scope-tokens only, as from a token; "*" is the literal scope "*": only an API-key
        // record grants every scope, so a provider's list cannot be turned into a wildcard.
        scopes: Array.isArray(granted.scopes) ? granted.scopes.filter(isScopeToken) : [],
        method: typeof granted.method === 'string' && granted.method !== '' ? granted.method : 'custom',
      };
      if (typeof granted.subject === 'string') identity.subject = granted.subject;
      if (granted.claims !== undefined) identity.claims = granted.claims;
      return { ok: true, identity };
    },
    async close() {
      await provider.close?.();
    },
  };
  return authenticator;
}
