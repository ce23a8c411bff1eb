import { setHeader } from '../http/headers.js';
import type { Logger } from '../logger.js';
import type { ForwardedRequest } from './forwarded.js';
import { googleTokens } from './gcp/credential.js';
import { type GcpBackendOptions, readGcpOptions } from './gcp/options.js';
import type { CredentialKind } from './kind.js';
import { CredentialFetchError } from './refreshing.js';

export type { GcpBackendOptions };

/**
 * Builds the Google kind: the options read (gcp/options), tokens fetched per audience
 * (gcp/credential), the one for this request sent as a bearer token. One instance serves many
 * upstreams.
 */
export function gcpKind(options: GcpBackendOptions, logger: Logger): CredentialKind {
  const settings = readGcpOptions(options);
  const tokens = googleTokens(settings, logger);
  return {
    name: 'gcp',
    needsUpstream: settings.type === 'idToken' && settings.audience === undefined,
    async apply(request: ForwardedRequest) {
      let audience: string | undefined;
      if (settings.type === 'idToken') {
        const url = request.upstreamUrl();
        audience = settings.audience ?? (url === undefined ? undefined : `https://${url.host}`);
        if (audience === undefined)
          throw new CredentialFetchError('no audience: set gcp.audience or an upstream', 'refused');
      }
      setHeader(request.message, 'authorization', `Bearer ${await tokens.get(audience)}`);
    },
    close() {},
  };
}
