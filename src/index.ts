/**
 * portcullis core: framework-agnostic authentication. Most apps import an adapter instead:
 * `portcullis/express` or `portcullis/koa`.
 *
 * @packageDocumentation
 */
export { type AdapterWrappers, adapterFactories } from './adapter-kit.js';
export { type AnyAuthOptions, AnyInbound, anyAuthArguments, inboundOf, withInbound } from './any.js';
export { type ApiKeyAuthOptions, type ApiKeyManager, apiKeyAuthenticator } from './apikey/authenticator.js';
export type { ApiKeyInfo, ApiKeyRecord } from './apikey/records.js';
export type { Authenticator, Problem, SchemeContext, SchemeDeclaration, Verdict } from './authenticator.js';
export { type AuthorizeOptions, authorizer, type RequestCheck, type Rule } from './authz/authorize.js';
export { type ForwardIdentityOptions, identityForwarder } from './authz/forward-identity.js';
export { scopeRequirement } from './authz/scopes.js';
export type { AwsBackendOptions } from './backend/aws.js';
export type { AzureBackendOptions } from './backend/azure.js';
export {
  type ApplyContext,
  BackendAuth,
  type BackendAuthOptions,
  type BackendCommonOptions,
  type BackendCredentialOptions,
  backendCredentials,
} from './backend/backend-auth.js';
export {
  forwardableHeaders,
  type OutgoingRequest,
  type PreparedRequest,
  type UpstreamRequestView,
} from './backend/forwarded.js';
export type { GcpBackendOptions } from './backend/gcp.js';
export type {
  AnthropicPreset,
  ApiKeyPreset,
  KeyBackendOptions,
  PassthroughBackendOptions,
} from './backend/key.js';
export { type BasicAuthOptions, basicAuthenticator } from './basic/authenticator.js';
export { basicChallenge, bearerChallenge } from './challenge.js';
export type { SecretSource } from './config/secret.js';
export {
  BEARER_LOCATION,
  type CredentialLocation,
  type CredentialReading,
  type Locator,
  locator,
} from './credentials/location.js';
export { AuthResult, type CustomIdentity } from './custom/auth-result.js';
export {
  type AuthProvider,
  type CustomAuthOptions,
  type CustomAuthRequest,
  customAuthenticator,
} from './custom/authenticator.js';
export { AuthError, ConfigError } from './errors.js';
export { apiKeyInbound, basicInbound, customInbound, type InboundHandler, jwtInbound } from './factories.js';
export { canonicalPath, DEFAULT_FOLDING, type PathFolding } from './http/canonical-path.js';
export { pathOf } from './http/paths.js';
export { parseQuery, queryString, withoutQueryParameter, withQueryParameter } from './http/query.js';
export { type Rejection, renderRejection } from './http/rejection.js';
export type { RequestHost } from './http/request-host.js';
export { type Auth, type AuthPart, inboundCredential, mergeAuth } from './identity.js';
export { Inbound, type InboundOptions, type InboundResult } from './inbound.js';
export { jwtAuthenticator } from './jwt/authenticator.js';
export type { JwksOption, JwtAuthOptions, JwtProviderOptions } from './jwt/options.js';
export { consoleLogger, type Logger } from './logger.js';
export { applyMode, type Decision, type Mode, type Outcome } from './modes.js';
export type { AuthErrorCode } from './refusals.js';
