import { type AnyAuthOptions, AnyInbound, anyAuthArguments, withInbound } from './any.js';
import type { ApiKeyAuthOptions, ApiKeyManager } from './apikey/authenticator.js';
import { type AuthorizeOptions, authorizer, type RequestCheck } from './authz/authorize.js';
import { type ForwardIdentityOptions, identityForwarder } from './authz/forward-identity.js';
import { scopeRequirement } from './authz/scopes.js';
import { BackendAuth, type BackendAuthOptions } from './backend/backend-auth.js';
import type { BasicAuthOptions } from './basic/authenticator.js';
import type { AuthProvider, CustomAuthOptions } from './custom/authenticator.js';
import { ConfigError } from './errors.js';
import { apiKeyInbound, basicInbound, customInbound, type InboundHandler, jwtInbound } from './factories.js';
import type { Inbound, InboundOptions } from './inbound.js';
import type { JwtAuthOptions } from './jwt/options.js';

/** The three things an adapter knows how to do: wrap an inbound handler, a check, a backend. */
export interface AdapterWrappers<Auth extends { close(): Promise<void> }, Check, Backend> {
  inbound(handler: InboundHandler, options: InboundOptions): Auth;
  check(step: RequestCheck, options: { delegateErrors?: boolean }): Check;
  backend(backend: BackendAuth, options: { delegateErrors?: boolean }): Backend;
}

/**
 * Every public middleware factory, written once: an adapter supplies its two wrappers and
 * re-exports the result under its own types (and TSDoc examples).
 */
export function adapterFactories<Auth extends { close(): Promise<void> }, Check, Backend>(
  wrap: AdapterWrappers<Auth, Check, Backend>,
) {
  const inbound = (handler: Inbound, options: InboundOptions): Auth =>
    withInbound(wrap.inbound(handler, options), handler);
  return {
    jwtAuth: (options: JwtAuthOptions): Auth => inbound(jwtInbound(options), options),
    basicAuth: (options: BasicAuthOptions): Auth => inbound(basicInbound(options), options),
    apiKeyAuth(options: ApiKeyAuthOptions): Auth & ApiKeyManager {
      const { inbound: handler, keys } = apiKeyInbound(options);
      return Object.assign(inbound(handler, options), {
        add: keys.add.bind(keys),
        revoke: keys.revoke.bind(keys),
        list: keys.list.bind(keys),
      });
    },
    customAuth: (provider: AuthProvider, options: CustomAuthOptions = {}): Auth =>
      inbound(customInbound(provider, options), options),
    anyAuth(...members: (Auth | AnyAuthOptions)[]): Auth {
      const { members: handlers, options } = anyAuthArguments(members);
      return wrap.inbound(new AnyInbound(handlers, options), options);
    },
    authorize: (options: AuthorizeOptions): Check => wrap.check(authorizer(options), options),
    requireScopes: (...scopes: string[]): Check => wrap.check(scopeRequirement(scopes), {}),
    forwardIdentity: (options: ForwardIdentityOptions): Check => wrap.check(identityForwarder(options), {}),
    backendAuth(options: BackendAuthOptions): Backend {
      const backend = new BackendAuth(options);
      if (backend.needsUpstream) {
        void backend.close();
        throw new ConfigError(
          'upstream',
          'is required in front of a proxy: this credential signs or names the upstream URL',
        );
      }
      return wrap.backend(backend, options);
    },
  };
}
