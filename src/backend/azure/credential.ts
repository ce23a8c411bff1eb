import { readFile } from 'node:fs/promises';
import { optionalSecret, resolveSecret, type Secret } from '../../config/secret.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { errorClass } from '../../logging/log-text.js';
import { loadOptionalPeer } from '../optional-peer.js';
import { CredentialFetchError, type FetchCredential, isTransientFailure } from '../refreshing.js';
import type { AzureSettings } from './options.js';
import { requestToken, usableToken } from './token-endpoint.js';

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

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** How the Entra token is fetched, with the secrets (file watchers) it holds. */
export interface AzureTokenSource {
  fetch: FetchCredential<string>;
  close(): void;
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
  // @azure/identity's class names (CredentialUnavailableError, AuthenticationError...); its
  // messages quote the token service's answer and are not logged.
  const name = errorClass(error);
  return transient(error)
    ? new CredentialFetchError(
        `DefaultAzureCredential could not reach a token service (${name})`,
        'unavailable',
      )
    : new CredentialFetchError(`DefaultAzureCredential found no usable credential (${name})`, 'refused');
}

/**
 * The token source the settings name: client credentials (a secret or a federated assertion)
 * POSTed to Entra ID, or DefaultAzureCredential. Secrets are resolved now: a missing one is a
 * ConfigError at start-up, and no watcher is left running after one.
 */
export function azureTokenSource(settings: AzureSettings, logger: Logger): AzureTokenSource {
  const { fields, scope, authority } = settings;
  const secrets: Secret[] = [];
  const close = () => {
    for (const secret of secrets) secret.close();
  };
  const keep = <T extends Secret | undefined>(secret: T): T => {
    if (secret !== undefined) secrets.push(secret);
    return secret;
  };
  try {
    const clientSecret = keep(optionalSecret(settings.clientSecret, fields.clientSecret, logger));
    const tokenFile =
      settings.federatedTokenFile ??
      (clientSecret === undefined ? process.env.AZURE_FEDERATED_TOKEN_FILE : undefined);
    if (clientSecret !== undefined || tokenFile !== undefined) {
      const tenantId = keep(resolveSecret(settings.tenantId ?? '$AZURE_TENANT_ID', fields.tenantId, logger));
      const clientId = keep(resolveSecret(settings.clientId ?? '$AZURE_CLIENT_ID', fields.clientId, logger));
      if (!/^[A-Za-z0-9.-]+$/.test(tenantId.value))
        throw new ConfigError(fields.tenantId, 'must be a tenant id or domain');
      // The file is read only without a client secret; with one, it may well be absent.
      if (clientSecret === undefined && (typeof tokenFile !== 'string' || tokenFile === '')) {
        throw new ConfigError(fields.federatedTokenFile, 'must be a file path');
      }
      const assertionFile = tokenFile ?? '';
      const fetch: FetchCredential<string> = async (signal) => {
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
        return requestToken(endpoint, form, signal, [
          form.get('client_secret') ?? '',
          form.get('client_assertion') ?? '',
        ]);
      };
      return { fetch, close };
    }
    const clientId = keep(optionalSecret(settings.clientId, fields.clientId, logger));
    const tenantId = keep(optionalSecret(settings.tenantId, fields.tenantId, logger));
    let credential: InstanceType<AzureIdentityLibrary['DefaultAzureCredential']> | undefined;
    const fetch: FetchCredential<string> = async (signal) => {
      if (credential === undefined) {
        const identity = await loadOptionalPeer<AzureIdentityLibrary>(
          '@azure/identity',
          'backendAuth azure without a secret',
        );
        credential = new identity.DefaultAzureCredential({
          ...(clientId === undefined ? {} : { managedIdentityClientId: clientId.value }),
          ...(tenantId === undefined ? {} : { tenantId: tenantId.value }),
          ...(settings.authorityGiven ? { authorityHost: authority.toString() } : {}),
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
    return { fetch, close };
  } catch (error) {
    close();
    throw error;
  }
}
