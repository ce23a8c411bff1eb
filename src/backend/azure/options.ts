import {
  atMostOneOf,
  type Locked,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  text,
  z,
} from '../../config/schema.js';
import type { SecretSource } from '../../config/secret.js';
import { ConfigError } from '../../errors.js';
import { unfetchableUrl } from '../../http/loopback.js';
import { emptyForm, requiredSecret, secretSource } from '../option-parts.js';

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

/** agentgateway's `azure.explicitConfig`, in the forms that map one-to-one: give one. */
export interface AgentgatewayAzureExplicit {
  clientSecret?: { tenant_id: SecretSource; client_id: SecretSource; client_secret: SecretSource };
  workloadIdentity?: Record<string, never>;
}

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

const CLIENT_SECRET_FORM = optionsObject('azure.explicitConfig.clientSecret', {
  tenant_id: requiredSecret(),
  client_id: requiredSecret(),
  client_secret: requiredSecret(),
});

const EXPLICIT = refined(
  optionsObject(
    'azure.explicitConfig',
    { clientSecret: CLIENT_SECRET_FORM.optional(), workloadIdentity: emptyForm().optional() },
    {
      // agentgateway's managed identity form picks one identity kind; DefaultAzureCredential
      // tries several sources, so the mapping would not be one-to-one.
      managedIdentity: {
        say: 'is not supported as such: write `azure: { clientId }` for a user-assigned identity, or `azure: {}` (DefaultAzureCredential, which tries managed identity)',
      },
    },
  ),
  (explicit, ctx) => {
    atMostOneOf<typeof explicit>(['clientSecret', 'workloadIdentity'], 'a token has one source')(
      explicit,
      ctx,
    );
    if (explicit.clientSecret === undefined && explicit.workloadIdentity === undefined)
      refuse(ctx, 'must name clientSecret or workloadIdentity');
  },
);

const CREDENTIAL_KEYS = ['tenantId', 'clientId', 'clientSecret', 'federatedTokenFile'] as const;

/** The azure options: one definition for their check, their field paths and their type. */
const AZURE = refined(
  optionsObject(
    'azure',
    {
      tenantId: secretSource().optional(),
      clientId: secretSource().optional(),
      clientSecret: secretSource().optional(),
      federatedTokenFile: text('must be a file path').optional(),
      scope: text('must be a scope such as "api://app/.default"').optional(),
      authorityHost: z
        .string({ error: 'must be a URL such as "https://login.microsoftonline.us"' })
        .optional(),
      explicitConfig: EXPLICIT.optional(),
      implicit: emptyForm().optional(),
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
  ),
  (options, ctx) => {
    // An agentgateway form (`explicitConfig`, `implicit`) beside portcullis's own is two answers.
    const flat = CREDENTIAL_KEYS.find((key) => options[key] !== undefined);
    for (const form of ['explicitConfig', 'implicit'] as const) {
      if (options[form] !== undefined && flat !== undefined)
        refuse(ctx, `and \`azure.${flat}\` are two ways to give the credential: give one`, form);
    }
    if (options.explicitConfig !== undefined && options.implicit !== undefined)
      refuse(ctx, 'and `azure.explicitConfig` are two sources: give one', 'implicit');
    // With both, the token file used to be ignored without a word.
    atMostOneOf<typeof options>(
      ['clientSecret', 'federatedTokenFile'],
      'give a client secret or a federated token file',
    )(options, ctx);
  },
);

// The documented interface and the schema describe one shape.
const locked: Locked<AzureBackendOptions, z.output<typeof AZURE>> = true;
void locked;

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

type Source = Pick<AzureSettings, 'tenantId' | 'clientId' | 'clientSecret' | 'federatedTokenFile' | 'fields'>;

/** The source agentgateway's `explicitConfig` names, in portcullis's terms. */
function explicitSource(explicit: z.output<typeof EXPLICIT>): Source {
  const field = 'azure.explicitConfig';
  const parts = explicit.clientSecret;
  if (parts !== undefined) {
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
export function readAzureOptions(given: AzureBackendOptions): AzureSettings {
  const options = parseOptions(AZURE, given, 'azure');
  const source: Source =
    options.explicitConfig !== undefined
      ? explicitSource(options.explicitConfig)
      : {
          tenantId: options.tenantId,
          clientId: options.clientId,
          clientSecret: options.clientSecret,
          federatedTokenFile: options.federatedTokenFile,
          fields: FLAT_FIELDS,
        };
  const scope = options.scope ?? DEFAULT_SCOPE;
  // AKS sets AZURE_AUTHORITY_HOST for sovereign clouds, beside the federated token file.
  const authority = authorityUrl(options.authorityHost ?? process.env.AZURE_AUTHORITY_HOST);
  return { ...source, scope, authority, authorityGiven: options.authorityHost !== undefined };
}
