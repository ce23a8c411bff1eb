import type { IncomingHttpHeaders } from 'node:http';
import { type Authenticator, credentialError, type Verdict } from '../authenticator.js';
import { bearerChallenge, isSafeRealm } from '../challenge.js';
import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { BEARER_LOCATION, type CredentialLocation, locator } from '../credentials/location.js';
import { ConfigError } from '../errors.js';
import { fullTarget } from '../http/paths.js';
import type { RequestHost } from '../http/request-host.js';
import type { AuthPart } from '../identity.js';
import type { InboundOptions } from '../inbound.js';
import { consoleLogger, type Logger } from '../logger.js';
import { AuthResult } from './auth-result.js';

/** What a custom provider sees of the request (read-only by contract). */
export interface CustomAuthRequest {
  method: string;
  /** The full path the app routes on, without the query. */
  path: string;
  /** `path` and the query string, as the client sent them. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** Your own credential check. `close()` is called by the middleware's `close()`. */
export interface AuthProvider {
  authenticate(credential: string, request: CustomAuthRequest): AuthResult | Promise<AuthResult>;
  close?(): void | Promise<void>;
}

/** Options of `customAuth()`. */
export interface CustomAuthOptions extends InboundOptions {
  /** Default `Authorization: Bearer`. */
  location?: CredentialLocation;
  /** The realm in `WWW-Authenticate`. Default "api". */
  realm?: string;
  /** Told when the provider throws (never the error's text). Default: console.warn. */
  logger?: Logger;
}

const CUSTOM_AUTH_KEYS = keysOf<CustomAuthOptions>()(
  'customAuth',
  { location: true, realm: true, logger: true, mode: true, publicPaths: true, delegateErrors: true },
  {
    authenticate: { say: 'it belongs on the provider, the first argument: customAuth(provider, options)' },
    provider: { say: 'the provider is the first argument: customAuth(provider, options)' },
  },
);

const GENERIC_DENIAL = 'The credential was not accepted';

/** A denial reason is shown only when it is short printable ASCII: it is the provider's own text. */
function describe(reason: string | undefined): string {
  if (typeof reason !== 'string' || reason === '' || reason.length > 200) return GENERIC_DENIAL;
  for (let i = 0; i < reason.length; i++) {
    const code = reason.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return GENERIC_DENIAL;
  }
  return reason;
}

/** A custom provider as an {@link Authenticator}. */
export function customAuthenticator(provider: AuthProvider, options: CustomAuthOptions = {}): Authenticator {
  refuseUnknownKeys(options, CUSTOM_AUTH_KEYS, '');
  if (typeof provider?.authenticate !== 'function') {
    throw new ConfigError('provider', 'must have an authenticate(credential, request) method');
  }
  const realm = options.realm ?? 'api';
  if (!isSafeRealm(realm))
    throw new ConfigError('realm', 'must be 1-200 printable characters without quotes or backslashes');
  const credentialLocator = locator(options.location, 'location', BEARER_LOCATION);
  const logger = options.logger ?? consoleLogger;

  const authenticator: Authenticator = {
    method: 'custom',
    locator: credentialLocator,
    missingStatus: 401,
    challenge: (problem) => bearerChallenge(realm, problem),
    async authenticate(credential: string, host: RequestHost): Promise<Verdict> {
      const request: CustomAuthRequest = {
        method: host.message.method ?? 'GET',
        path: host.path,
        url: fullTarget(host.path, host.message.url),
        headers: host.message.headers,
      };
      let result: unknown;
      try {
        result = await provider.authenticate(credential, request);
      } catch (error) {
        // A provider's exception text may carry anything (a DSN, the token): it is neither
        // shown nor logged; the operator learns that it threw, and what kind of error it was.
        const kind = error instanceof Error ? error.name : typeof error;
        logger.warn(`customAuth provider threw (${kind}); the request was refused`);
        result = undefined;
      }
      if (!(result instanceof AuthResult) || !result.ok) {
        const reason = result instanceof AuthResult ? describe(result.reason) : GENERIC_DENIAL;
        return { ok: false, error: credentialError(authenticator, 'invalid_credentials', reason) };
      }
      const granted = result.identity ?? {};
      const identity: AuthPart = {
        scopes: Array.isArray(granted.scopes)
          ? granted.scopes.filter((s): s is string => typeof s === 'string')
          : [],
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
