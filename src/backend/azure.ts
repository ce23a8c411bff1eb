import { readFile } from 'node:fs/promises';
import { atMostOne, keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { optionalSecret, resolveSecret, type Secret, type SecretSource } from '../config/secret.js';
import { ConfigError } from '../errors.js';
import { readCappedText } from '../http/fetch-json.js';
import { isHeaderSafe } from '../http/header-value.js';
import { setHeader } from '../http/headers.js';
import { unfetchableUrl } from '../http/loopback.js';
import type { Logger } from '../logger.js';
import type { ForwardedRequest } from './forwarded.js';
import type { CredentialKind } from './kind.js';
import { loadOptionalPeer } from './optional-peer.js';
import {
  CredentialFetchError,
  type Expiring,
  isTransientFailure,
  RefreshingCredential,
} from './refreshing.js';

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
}

interface AzureIdentityLibrary {
  DefaultAzureCredential: new (options: {
    managedIdentityClientId?: string;
    tenantId?: string;
  }) => {
    getToken(
      scope: string,
      options: { abortSignal?: AbortSignal },
    ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
  };
}

const DEFAULT_SCOPE = 'https://cognitiveservices.azure.com/.default';
const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_TOKEN_RESPONSE = 64 * 1024;

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

function usableToken(token: unknown): string {
  if (typeof token !== 'string' || token === '' || !isHeaderSafe(token)) {
    throw new CredentialFetchError('Entra ID returned an unusable token', 'refused');
  }
  return token;
}

/**
 * Sorts @azure/identity's failures: unreachable or 5xx/429 token services are "try again" (503);
 * no credential configured, or a refusal (4xx), is the gateway's problem (502).
 */
function azureFailure(error: unknown): CredentialFetchError {
  const transient = (failure: unknown): boolean => {
    const f = failure as { code?: unknown; statusCode?: unknown; errors?: unknown };
    if (Array.isArray(f?.errors)) return f.errors.some(transient);
    return isTransientFailure(f?.code, Number(f?.statusCode));
  };
  const name = (error as Error)?.name ?? 'error';
  return transient(error)
    ? new CredentialFetchError(
        `DefaultAzureCredential could not reach a token service (${name})`,
        'unavailable',
      )
    : new CredentialFetchError(`DefaultAzureCredential found no usable credential (${name})`, 'refused');
}

/** POSTs the token request; maps every failure to a CredentialFetchError with no secret in it. */
async function requestToken(
  endpoint: string,
  form: URLSearchParams,
  signal: AbortSignal,
): Promise<Expiring<string>> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal,
      redirect: 'error',
    });
  } catch {
    throw new CredentialFetchError('the Entra ID token endpoint is unreachable', 'unavailable');
  }
  // Read while counting: a token answer has no reason to be large, and an endpoint that streams
  // without end must not be buffered whole.
  const text = await readCappedText(response, MAX_TOKEN_RESPONSE, () => undefined).catch(() => '');
  if (response.status >= 500 || response.status === 429) {
    throw new CredentialFetchError(
      `the Entra ID token endpoint answered HTTP ${response.status}`,
      'unavailable',
    );
  }
  let json: { access_token?: unknown; expires_in?: unknown; error?: unknown } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // reported below as an unusable answer
  }
  if (response.status !== 200) {
    const code = typeof json.error === 'string' && /^[a-z_]+$/.test(json.error) ? ` ${json.error}` : '';
    throw new CredentialFetchError(
      `the Entra ID token endpoint refused the request (HTTP ${response.status}${code})`,
      'refused',
    );
  }
  const token = usableToken(json.access_token);
  const lifetime = Number(json.expires_in);
  return {
    value: token,
    ...(Number.isFinite(lifetime) && lifetime > 0 ? { expiresAt: Date.now() + lifetime * 1000 } : {}),
  };
}

const AZURE_KEYS = keysOf<AzureBackendOptions>()(
  'azure',
  {
    tenantId: true,
    clientId: true,
    clientSecret: true,
    federatedTokenFile: true,
    scope: true,
    authorityHost: true,
  },
  {
    tenant: 'tenantId',
    client: 'clientId',
    secret: 'clientSecret',
    scopes: 'scope',
    authority: 'authorityHost',
    tokenFilePath: 'federatedTokenFile',
    managedIdentityClientId: 'clientId',
  },
);

/** Builds the Azure kind. */
export function azureKind(options: AzureBackendOptions, logger: Logger): CredentialKind {
  refuseUnknownKeys(options, AZURE_KEYS, 'azure');
  // With both, the token file used to be ignored without a word.
  atMostOne(
    options,
    ['clientSecret', 'federatedTokenFile'],
    'azure',
    'give a client secret or a federated token file',
  );
  const scope = options.scope ?? DEFAULT_SCOPE;
  if (typeof scope !== 'string' || scope === '')
    throw new ConfigError('azure.scope', 'must be a scope such as "api://app/.default"');
  // AKS sets AZURE_AUTHORITY_HOST for sovereign clouds, beside the federated token file.
  const authority = authorityUrl(options.authorityHost ?? process.env.AZURE_AUTHORITY_HOST);
  const secrets: Secret[] = [];
  const close = () => {
    for (const secret of secrets) secret.close();
  };
  const keep = <T extends Secret | undefined>(secret: T): T => {
    if (secret !== undefined) secrets.push(secret);
    return secret;
  };

  let fetchToken: (signal: AbortSignal) => Promise<Expiring<string>>;
  try {
    const clientSecret = keep(optionalSecret(options.clientSecret, 'azure.clientSecret', logger));
    const tokenFile =
      options.federatedTokenFile ??
      (clientSecret === undefined ? process.env.AZURE_FEDERATED_TOKEN_FILE : undefined);
    if (clientSecret !== undefined || tokenFile !== undefined) {
      const tenantId = keep(resolveSecret(options.tenantId ?? '$AZURE_TENANT_ID', 'azure.tenantId', logger));
      const clientId = keep(resolveSecret(options.clientId ?? '$AZURE_CLIENT_ID', 'azure.clientId', logger));
      if (!/^[A-Za-z0-9.-]+$/.test(tenantId.value))
        throw new ConfigError('azure.tenantId', 'must be a tenant id or domain');
      // The file is read only without a client secret; with one, it may well be absent.
      if (clientSecret === undefined && (typeof tokenFile !== 'string' || tokenFile === '')) {
        throw new ConfigError('azure.federatedTokenFile', 'must be a file path');
      }
      const assertionFile = tokenFile ?? '';
      fetchToken = async (signal) => {
        const endpoint = new URL(
          `${authority.pathname.replace(/\/$/, '')}/${tenantId.value}/oauth2/v2.0/token`,
          authority,
        );
        const form = new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clientId.value,
          scope,
        });
        if (clientSecret !== undefined) form.set('client_secret', clientSecret.value);
        else {
          // Re-read each time: the kubelet rotates the projected token file.
          const assertion = (await readFile(assertionFile, 'utf8').catch(() => '')).trim();
          if (assertion === '')
            throw new CredentialFetchError('the federated token file is missing or empty', 'refused');
          form.set('client_assertion_type', ASSERTION_TYPE);
          form.set('client_assertion', assertion);
        }
        return requestToken(endpoint.toString(), form, signal);
      };
    } else {
      const clientId = keep(optionalSecret(options.clientId, 'azure.clientId', logger));
      const tenantId = keep(optionalSecret(options.tenantId, 'azure.tenantId', logger));
      let credential: InstanceType<AzureIdentityLibrary['DefaultAzureCredential']> | undefined;
      fetchToken = async (signal) => {
        if (credential === undefined) {
          const identity = await loadOptionalPeer<AzureIdentityLibrary>(
            '@azure/identity',
            'backendAuth azure without a secret',
          );
          credential = new identity.DefaultAzureCredential({
            ...(clientId === undefined ? {} : { managedIdentityClientId: clientId.value }),
            ...(tenantId === undefined ? {} : { tenantId: tenantId.value }),
            ...(options.authorityHost === undefined ? {} : { authorityHost: authority.toString() }),
          });
        }
        let found: { token: string; expiresOnTimestamp: number } | null;
        try {
          found = await credential.getToken(scope, { abortSignal: signal });
        } catch (error) {
          throw azureFailure(error);
        }
        if (found === null)
          throw new CredentialFetchError('DefaultAzureCredential found no credential', 'refused');
        return { value: usableToken(found.token), expiresAt: found.expiresOnTimestamp };
      };
    }
  } catch (error) {
    close();
    throw error;
  }

  const token = new RefreshingCredential((signal) => fetchToken(signal), {
    name: 'backendAuth azure',
    logger,
  });
  return {
    name: 'azure',
    needsUpstream: false,
    async apply(request: ForwardedRequest) {
      setHeader(request.message, 'authorization', `Bearer ${await token.get()}`);
    },
    close,
  };
}
