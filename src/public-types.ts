/**
 * Every public type, listed once: the root `portcullis` and both adapters re-export this
 * module, so a type is importable from wherever the user imports the factories. Nothing here
 * exists at run time.
 */
import type { BackendAuth } from './backend/backend-auth.js';

/** `forwardIdentity()`'s options: `headers`, and `delegateErrors`. */
export type {
  ForwardIdentityStepOptions as ForwardIdentityOptions,
  McpAuthParts,
  StepOptions,
} from './adapter-kit.js';
export type { AnyAuthOptions } from './any.js';
export type { ApiKeyAuthOptions, ApiKeyManager } from './apikey/authenticator.js';
export type { ApiKeyInfo, ApiKeyRecord } from './apikey/records.js';
export type { AuthorizeOptions, Rule } from './authz/authorize.js';
export type { AwsBackendOptions } from './backend/aws.js';
export type { AzureBackendOptions } from './backend/azure.js';
export type {
  ApplyContext,
  BackendAuthOptions,
  BackendCommonOptions,
  BackendCredentialOptions,
} from './backend/backend-auth.js';
export type { OutgoingRequest, PreparedRequest, UpstreamRequestView } from './backend/forwarded.js';
export type { GcpBackendOptions } from './backend/gcp.js';
export type {
  AnthropicPreset,
  ApiKeyPreset,
  KeyBackendOptions,
  PassthroughBackendOptions,
} from './backend/key.js';
export type { BasicAuthOptions } from './basic/authenticator.js';
export type { SecretSource } from './config/secret.js';
export type { CredentialLocation } from './credentials/location.js';
export type { CustomIdentity } from './custom/auth-result.js';
export type { AuthProvider, CustomAuthOptions, CustomAuthRequest } from './custom/authenticator.js';
export type { PublicPath, PublicRequests } from './http/public-paths.js';
export type { Auth, AuthMethod, CustomClaims, JwtClaims } from './identity.js';
export type { InboundOptions } from './inbound.js';
export type { DpopOptions } from './jwt/dpop/options.js';
export type {
  CertificateHeaderFormat,
  CertificateHeaderOptions,
  MtlsOptions,
} from './jwt/mtls/options.js';
export type { JwksOption, JwtAuthOptions, JwtProviderOptions } from './jwt/options.js';
export type { Revocation, RevocationExpiry, RevocationOptions, TokenRevoker } from './jwt/revocations.js';
export type { Logger } from './logger.js';
export type { ProtectedResourceMetadata } from './mcp/metadata.js';
export type { EntraPreset, McpAuthOptions, McpDpopOptions, McpScopes } from './mcp/options.js';
export type { Mode } from './modes.js';
export type { AuthErrorCode } from './refusals.js';
export type { MemoryStoreOptions } from './store/memory.js';
export type {
  RedisClientLike,
  RedisMultiLike,
  RedisStoreOptions,
  RedisSubscriberLike,
} from './store/redis.js';
export type { ReplayCache, ReplayCacheOptions } from './store/replay-cache.js';
export type { Change, Collection, Store, StoredValue, SyncStatus } from './store/store.js';

/** What `backendCredentials(options)` returns: `apply()` a request, `close()` at shutdown. */
export type BackendCredentials = Pick<BackendAuth, 'apply' | 'close'>;
