import { atMostOne, keysOf, refuseUnknownKeys } from '../../config/known-keys.js';
import type { SecretSource } from '../../config/secret.js';
import { ConfigError } from '../../errors.js';
import { unfetchableUrl } from '../../http/loopback.js';

/**
 * An Entra ID (Azure AD) access token. With `clientSecret`: OAuth2 client credentials. With
 * `federatedTokenFile` (AKS workload identity): a client assertion read from that file on each
 * fetch. With neither: `@azure/identity`'s DefaultAzureCredential (managed identity, Azure CLI,
 * environment), an optional peer.
 */
export interface AzureBackendOptions {
  tenantId?: SecretSource;
  clientId?: SecretSource;
  clientSecret?: SecretSource;
  /** Default `$AZURE_FEDERATED_TOKEN_FILE` when neither a secret nor this is given and it is set. */
  federatedTokenFile?: string;
  /** Default `https://cognitiveservices.azure.com/.default` (Azure OpenAI). */
  scope?: string;
  /** Default `https://login.microsoftonline.com`; sovereign clouds have their own. */
  authorityHost?: string;
  /**
   * agentgateway's explicit forms: `{ clientSecret: { tenant_id, client_id, client_secret } }`
   * is `tenantId`, `clientId`, `clientSecret`; `{ workloadIdentity: {} }` is the federated
   * token file AKS names in `$AZURE_FEDERATED_TOKEN_FILE`.
   */
  explicitConfig?: AgentgatewayAzureExplicit;
  /** agentgateway's `implicit: {}`: the default, as `azure: {}`. */
  implicit?: Record<string, never>;
}

/** agentgateway's `azure.explicitConfig`, in the forms that map one-to-one onto portcullis's. */
export type AgentgatewayAzureExplicit =
  | { clientSecret: { tenant_id: SecretSource; client_id: SecretSource; client_secret: SecretSource } }
  | { workloadIdentity: Record<string, never> };

/** Where the token comes from, each value with the option path it was written at. */
export interface AzureSettings {
  readonly tenantId: SecretSource | undefined;
  readonly clientId: SecretSource | undefined;
  readonly clientSecret: SecretSource | undefined;
  readonly federatedTokenFile: string | undefined;
  /** The option paths of the four above, for messages: the spelling the user wrote. */
  readonly fields: Readonly<Record<'tenantId' | 'clientId' | 'clientSecret' | 'federatedTokenFile', string>>;
  readonly scope: string;
  readonly authority: URL;
  /** Whether `authorityHost` was given (DefaultAzureCredential is told only then). */
  readonly authorityGiven: boolean;
}

const DEFAULT_SCOPE = 'https://cognitiveservices.azure.com/.default';
const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';

const AZURE_KEYS = keysOf<AzureBackendOptions>()(
  'azure',
  {
    tenantId: true,
    clientId: true,
    clientSecret: true,
    federatedTokenFile: true,
    scope: true,
    authorityHost: true,
    explicitConfig: true,
    implicit: true,
  },
  {
    tenant: 'tenantId',
    client: 'clientId',
    secret: 'clientSecret',
    scopes: 'scope',
    authority: 'authorityHost',
    tokenFilePath: 'federatedTokenFile',
    managedIdentityClientId: 'clientId',
    // DeveloperToolsCredential alone (Azure CLI, azd) has no counterpart here: the default
    // also tries the environment and managed identity first.
    developerImplicit: {
      say: 'is not supported: `azure: {}` asks DefaultAzureCredential, which also reads the Azure CLI login',
    },
  },
);

const EXPLICIT_KEYS = keysOf<AgentgatewayAzureExplicit>()(
  'azure.explicitConfig',
  { clientSecret: true, workloadIdentity: true },
  {
    // agentgateway's managed identity form picks one identity kind; DefaultAzureCredential
    // tries several sources, so the mapping would not be one-to-one.
    managedIdentity: {
      say: 'is not supported as such: write `azure: { clientId }` for a user-assigned identity, or `azure: {}` (DefaultAzureCredential, which tries managed identity)',
    },
  },
);

const CLIENT_SECRET_KEYS = keysOf<
  Extract<AgentgatewayAzureExplicit, { clientSecret: unknown }>['clientSecret']
>()('azure.explicitConfig.clientSecret', { tenant_id: true, client_id: true, client_secret: true });

const NO_KEYS = keysOf<Record<string, never>>()('an empty form', {});

function authorityUrl(value: unknown): URL {
  if (value === undefined) return new URL(DEFAULT_AUTHORITY);
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new ConfigError('azure.authorityHost', 'must be a URL such as "https://login.microsoftonline.us"');
  }
  // Plain http only to a loopback token endpoint (a local emulator or a test); never echoed.
  const problem = unfetchableUrl(url);
  if (problem !== undefined) throw new ConfigError('azure.authorityHost', problem);
  return url;
}

const FLAT_FIELDS = {
  tenantId: 'azure.tenantId',
  clientId: 'azure.clientId',
  clientSecret: 'azure.clientSecret',
  federatedTokenFile: 'azure.federatedTokenFile',
} as const;
const CREDENTIAL_KEYS = ['tenantId', 'clientId', 'clientSecret', 'federatedTokenFile'] as const;

/** An agentgateway form (`explicitConfig`, `implicit`) given beside portcullis's own is refused. */
function refuseMixed(options: AzureBackendOptions, form: 'explicitConfig' | 'implicit'): void {
  const flat = CREDENTIAL_KEYS.find((key) => options[key] !== undefined);
  if (flat !== undefined) {
    throw new ConfigError(
      `azure.${form}`,
      `and \`azure.${flat}\` are two ways to give the credential: give one`,
    );
  }
}

/** The source agentgateway's `explicitConfig` names, in portcullis's terms. */
function explicitSource(
  explicit: unknown,
): Pick<AzureSettings, 'tenantId' | 'clientId' | 'clientSecret' | 'federatedTokenFile' | 'fields'> {
  const field = 'azure.explicitConfig';
  refuseUnknownKeys(explicit, EXPLICIT_KEYS, field);
  const form = atMostOne(explicit, ['clientSecret', 'workloadIdentity'], field, 'a token has one source');
  if (form === undefined) throw new ConfigError(field, 'must name clientSecret or workloadIdentity');
  if (form === 'clientSecret') {
    const given = (explicit as { clientSecret: unknown }).clientSecret;
    refuseUnknownKeys(given, CLIENT_SECRET_KEYS, `${field}.clientSecret`);
    const parts = given as Record<'tenant_id' | 'client_id' | 'client_secret', SecretSource | undefined>;
    for (const key of ['tenant_id', 'client_id', 'client_secret'] as const) {
      if (parts[key] === undefined) throw new ConfigError(`${field}.clientSecret.${key}`, 'is required');
    }
    return {
      tenantId: parts.tenant_id,
      clientId: parts.client_id,
      clientSecret: parts.client_secret,
      federatedTokenFile: undefined,
      fields: {
        tenantId: `${field}.clientSecret.tenant_id`,
        clientId: `${field}.clientSecret.client_id`,
        clientSecret: `${field}.clientSecret.client_secret`,
        federatedTokenFile: FLAT_FIELDS.federatedTokenFile,
      },
    };
  }
  refuseUnknownKeys(
    (explicit as { workloadIdentity: unknown }).workloadIdentity,
    NO_KEYS,
    `${field}.workloadIdentity`,
  );
  // Workload identity names its token file, tenant and client in the environment only.
  const tokenFile = process.env.AZURE_FEDERATED_TOKEN_FILE;
  if (tokenFile === undefined || tokenFile === '') {
    throw new ConfigError(
      `${field}.workloadIdentity`,
      'needs $AZURE_FEDERATED_TOKEN_FILE, which AKS workload identity sets (it is not set here)',
    );
  }
  return {
    tenantId: undefined,
    clientId: undefined,
    clientSecret: undefined,
    federatedTokenFile: tokenFile,
    fields: {
      tenantId: `${field}.workloadIdentity`,
      clientId: `${field}.workloadIdentity`,
      clientSecret: FLAT_FIELDS.clientSecret,
      federatedTokenFile: `${field}.workloadIdentity`,
    },
  };
}

/** Checks the azure options at start-up (secrets are resolved by azure/credential). */
export function readAzureOptions(options: AzureBackendOptions): AzureSettings {
  refuseUnknownKeys(options, AZURE_KEYS, 'azure');
  let source: Pick<AzureSettings, 'tenantId' | 'clientId' | 'clientSecret' | 'federatedTokenFile' | 'fields'>;
  if (options.explicitConfig !== undefined) {
    refuseMixed(options, 'explicitConfig');
    if (options.implicit !== undefined) {
      throw new ConfigError('azure.implicit', 'and `azure.explicitConfig` are two sources: give one');
    }
    source = explicitSource(options.explicitConfig);
  } else {
    if (options.implicit !== undefined) {
      refuseMixed(options, 'implicit');
      refuseUnknownKeys(options.implicit, NO_KEYS, 'azure.implicit');
    }
    // With both, the token file used to be ignored without a word.
    atMostOne(
      options,
      ['clientSecret', 'federatedTokenFile'],
      'azure',
      'give a client secret or a federated token file',
    );
    source = {
      tenantId: options.tenantId,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      federatedTokenFile: options.federatedTokenFile,
      fields: FLAT_FIELDS,
    };
  }
  const scope = options.scope ?? DEFAULT_SCOPE;
  if (typeof scope !== 'string' || scope === '')
    throw new ConfigError('azure.scope', 'must be a scope such as "api://app/.default"');
  // AKS sets AZURE_AUTHORITY_HOST for sovereign clouds, beside the federated token file.
  const authority = authorityUrl(options.authorityHost ?? process.env.AZURE_AUTHORITY_HOST);
  return { ...source, scope, authority, authorityGiven: options.authorityHost !== undefined };
}
