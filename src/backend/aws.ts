import type { Logger } from '../logger.js';
import { awsCredentials } from './aws/credential.js';
import { type AwsBackendOptions, readAwsOptions, signingScope } from './aws/options.js';
import { removeClientSigning, signableUrl, signRequest } from './aws/sign.js';
import type { ForwardedRequest } from './forwarded.js';
import type { CredentialKind } from './kind.js';
import { CredentialFetchError } from './refreshing.js';

export type { AwsBackendOptions };

/**
 * Builds the SigV4 kind: the options read (aws/options), the keys fetched (aws/credential),
 * each request signed (aws/sign). `upstream` is the fixed upstream, when there is one: it lets
 * a missing region be found (or reported) at start-up.
 */
export function awsKind(
  options: AwsBackendOptions,
  upstream: URL | undefined,
  logger: Logger,
): CredentialKind {
  const { options: parsed, signing } = readAwsOptions(options, upstream);
  const credentials = awsCredentials(parsed, signing.region ?? signing.upstreamRegion, logger);

  return {
    name: 'aws',
    needsUpstream: true,
    async apply(request: ForwardedRequest) {
      const url = signableUrl(request);
      const { region, service } = signingScope(signing, url.hostname);
      if (region === undefined) {
        throw new CredentialFetchError(
          `no region for ${url.hostname}: set aws.region (the host names none)`,
          'refused',
        );
      }
      if (service === undefined) {
        throw new CredentialFetchError(`no service for ${url.hostname}: set aws.service`, 'refused');
      }
      removeClientSigning(request.message);
      const [body, keys] = await Promise.all([request.body(), credentials.get(region)]);
      signRequest(request, url, { region, service }, body, keys);
    },
    close: credentials.close,
  };
}
