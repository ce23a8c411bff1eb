import { setHeader } from '../http/headers.js';
import type { Logger } from '../logger.js';
import { azureTokenSource } from './azure/credential.js';
import { type AzureBackendOptions, readAzureOptions } from './azure/options.js';
import type { ForwardedRequest } from './forwarded.js';
import type { CredentialKind } from './kind.js';
import { RefreshingCredential } from './refreshing.js';

export type { AzureBackendOptions };

/**
 * Builds the Azure kind: the options read (azure/options), the Entra token fetched and kept
 * fresh (azure/credential, azure/token-endpoint), sent as a bearer token.
 */
export function azureKind(options: AzureBackendOptions, logger: Logger): CredentialKind {
  const source = azureTokenSource(readAzureOptions(options), logger);
  const token = new RefreshingCredential(source.fetch, { name: 'backendAuth azure', logger });
  return {
    name: 'azure',
    needsUpstream: false,
    async apply(request: ForwardedRequest) {
      setHeader(request.message, 'authorization', `Bearer ${await token.get()}`);
    },
    close: source.close,
  };
}
