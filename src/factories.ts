import { type ApiKeyAuthOptions, type ApiKeyManager, apiKeyAuthenticator } from './apikey/authenticator.js';
import { type BasicAuthOptions, basicAuthenticator } from './basic/authenticator.js';
import { type AuthProvider, type CustomAuthOptions, customAuthenticator } from './custom/authenticator.js';
import type { RequestHost } from './http/request-host.js';
import type { Auth } from './identity.js';
import { Inbound, type InboundResult } from './inbound.js';
import { jwtAuthenticator } from './jwt/authenticator.js';
import type { JwtAuthOptions } from './jwt/options.js';

/** What an adapter wraps: one scheme (Inbound) or several (AnyInbound). */
export interface InboundHandler {
  /** Synchronous when the scheme could answer without waiting (adapters handle both). */
  handle(host: RequestHost, existing: Auth | undefined): InboundResult | Promise<InboundResult>;
  close(): Promise<void>;
}

// One constructor per scheme, so both adapters build them the same way.

export function jwtInbound(options: JwtAuthOptions): Inbound {
  return new Inbound(options, () => jwtAuthenticator(options));
}

export function basicInbound(options: BasicAuthOptions): Inbound {
  return new Inbound(options, () => basicAuthenticator(options));
}

export function apiKeyInbound(options: ApiKeyAuthOptions): { inbound: Inbound; keys: ApiKeyManager } {
  let keys: ApiKeyManager | undefined;
  const inbound = new Inbound(options, () => {
    const authenticator = apiKeyAuthenticator(options);
    keys = authenticator.keys;
    return authenticator;
  });
  return { inbound, keys: keys! };
}

export function customInbound(provider: AuthProvider, options: CustomAuthOptions = {}): Inbound {
  return new Inbound(options, () => customAuthenticator(provider, options));
}
