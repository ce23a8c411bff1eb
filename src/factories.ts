import {
  API_KEY_SCHEME,
  type ApiKeyAuthOptions,
  type ApiKeyManager,
  apiKeyAuthenticator,
} from './apikey/authenticator.js';
import { BASIC_SCHEME, type BasicAuthOptions, basicAuthenticator } from './basic/authenticator.js';
import {
  type AuthProvider,
  CUSTOM_SCHEME,
  type CustomAuthOptions,
  customAuthenticator,
} from './custom/authenticator.js';
import type { RequestHost } from './http/request-host.js';
import type { Auth } from './identity.js';
import { Inbound, type InboundResult } from './inbound.js';
import { JWT_SCHEME, jwtAuthenticator, jwtSchemeContext } from './jwt/authenticator.js';
import type { JwtAuthOptions } from './jwt/options.js';
import type { TokenRevoker } from './jwt/revocations.js';

/** What an adapter wraps: the inbound pipeline over one scheme (Inbound) or several (AnyInbound). */
export interface InboundHandler {
  /** Synchronous when the scheme could answer without waiting (adapters handle both). */
  handle(host: RequestHost, existing: Auth | undefined): InboundResult | Promise<InboundResult>;
  close(): Promise<void>;
}

// One constructor per scheme, so both adapters build them the same way.

export function jwtInbound(options: JwtAuthOptions): { inbound: Inbound; revocations: TokenRevoker } {
  let revocations: TokenRevoker | undefined;
  const inbound = Inbound.scheme(
    options,
    JWT_SCHEME,
    (context) => {
      const authenticator = jwtAuthenticator(options, context);
      revocations = authenticator.revocations;
      return authenticator;
    },
    jwtSchemeContext,
  );
  return { inbound, revocations: revocations! };
}

export function basicInbound(options: BasicAuthOptions): Inbound {
  return Inbound.scheme(options, BASIC_SCHEME, (context) => basicAuthenticator(options, context));
}

export function apiKeyInbound(options: ApiKeyAuthOptions): { inbound: Inbound; keys: ApiKeyManager } {
  let keys: ApiKeyManager | undefined;
  const inbound = Inbound.scheme(options, API_KEY_SCHEME, (context) => {
    const authenticator = apiKeyAuthenticator(options, context);
    keys = authenticator.keys;
    return authenticator;
  });
  return { inbound, keys: keys! };
}

export function customInbound(provider: AuthProvider, options: CustomAuthOptions = {}): Inbound {
  return Inbound.scheme(options, CUSTOM_SCHEME, (context) => customAuthenticator(provider, options, context));
}
