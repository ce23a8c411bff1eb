import { createRequire } from 'node:module';
import { optionalSecret, type Secret, type SecretSource } from '../../config/secret.js';
import { ConfigError } from '../../errors.js';
import { isHeaderSafe } from '../../http/header-value.js';
import type { Logger } from '../../logger.js';
import { errorClass, logText } from '../../logging/log-text.js';
import { loadOptionalPeer } from '../optional-peer.js';
import { CredentialFetchError, isTransientFailure, RefreshingCredential } from '../refreshing.js';
import type { AwsBackendOptions } from './options.js';

/** What SigV4 signs with. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The keys to sign with, fetched (and renewed) as needed. */
export interface AwsCredentialSource {
  /** `region`: the region being signed for, where STS is asked when nothing else names one. */
  get(region: string): Promise<AwsCredentials>;
  close(): void;
}

interface ChainCredentials extends AwsCredentials {
  expiration?: Date;
}

interface CredentialProviderModule {
  defaultProvider(init: Record<string, unknown>): () => Promise<ChainCredentials>;
}

interface WebIdentityModule {
  fromTokenFile(init: Record<string, unknown>): () => Promise<ChainCredentials>;
}

const CHAIN_PACKAGE = '@aws-sdk/credential-provider-node';
const WEB_IDENTITY_PACKAGE = '@aws-sdk/credential-provider-web-identity';

/**
 * Static keys, or the default chain (a profile, a web identity) behind a refreshing cache.
 * `stsRegion` is where web identity asks STS: the configured (or fixed upstream's) region;
 * when there is none, the region of the first request signed.
 */
export function awsCredentials(
  options: AwsBackendOptions,
  stsRegion: string | undefined,
  logger: Logger,
): AwsCredentialSource {
  const secrets: Secret[] = [];
  const close = () => {
    for (const secret of secrets) secret.close();
  };
  // A refused second secret must not leave the first one's file watcher running.
  const resolve = (source: SecretSource | undefined, field: string): Secret | undefined => {
    try {
      const secret = optionalSecret(source, field, logger);
      if (secret !== undefined) secrets.push(secret);
      return secret;
    } catch (error) {
      close();
      throw error;
    }
  };
  const accessKeyId = resolve(options.accessKeyId, 'aws.accessKeyId');
  const secretAccessKey = resolve(options.secretAccessKey, 'aws.secretAccessKey');
  const sessionToken = resolve(options.sessionToken, 'aws.sessionToken');
  if (accessKeyId !== undefined || secretAccessKey !== undefined) {
    if (options.profile !== undefined || options.webIdentity !== undefined) {
      close();
      throw new ConfigError(
        options.profile !== undefined ? 'aws.profile' : 'aws.webIdentity',
        'and static keys are two sources: give one',
      );
    }
    if (accessKeyId === undefined || secretAccessKey === undefined) {
      close();
      throw new ConfigError(
        accessKeyId === undefined ? 'aws.accessKeyId' : 'aws.secretAccessKey',
        'is required when the other key is given (or leave both out for the default chain)',
      );
    }
    return {
      get: async () => ({
        accessKeyId: accessKeyId.value,
        secretAccessKey: secretAccessKey.value,
        ...(sessionToken === undefined ? {} : { sessionToken: sessionToken.value }),
      }),
      close,
    };
  }
  if (sessionToken !== undefined) {
    close();
    throw new ConfigError('aws.sessionToken', 'needs aws.accessKeyId and aws.secretAccessKey');
  }
  return chainCredentials(chainInit(options), stsRegion, logger);
}

/** The default chain (or an explicit web identity), cached and renewed ahead of expiry. */
function chainCredentials(
  init: Record<string, unknown>,
  stsRegion: string | undefined,
  logger: Logger,
): AwsCredentialSource {
  let provider: (() => Promise<ChainCredentials>) | undefined;
  let region = stsRegion;
  const cached = new RefreshingCredential<AwsCredentials>(
    async () => {
      if (provider === undefined) {
        const chain = await loadOptionalPeer<CredentialProviderModule>(
          CHAIN_PACKAGE,
          'backendAuth aws without keys',
        );
        provider =
          init.webIdentityTokenFile === undefined
            ? chain.defaultProvider(init)
            : // STS in the signing region, not the SDK's us-east-1 fallback.
              webIdentityProvider({ ...init, clientConfig: { region } });
      }
      let found: ChainCredentials;
      try {
        found = await provider();
      } catch (error) {
        throw chainFailure(error);
      }
      const { accessKeyId: id, secretAccessKey: key, sessionToken: token, expiration } = found;
      for (const part of [id, key, token]) {
        if (part !== undefined && (typeof part !== 'string' || part === '' || !isHeaderSafe(part))) {
          throw new CredentialFetchError('the AWS credential chain returned unusable credentials', 'refused');
        }
      }
      return {
        value: {
          accessKeyId: id,
          secretAccessKey: key,
          ...(token === undefined ? {} : { sessionToken: token }),
        },
        ...(expiration === undefined ? {} : { expiresAt: expiration.getTime() }),
      };
    },
    { name: 'backendAuth aws', logger },
  );
  return {
    get: (signingRegion) => {
      region ??= signingRegion;
      return cached.get();
    },
    close() {},
  };
}

/**
 * An explicit `webIdentity` is the only source: the default chain tries environment keys and the
 * shared files first, and would sign with those without ever assuming the role. The provider is
 * the chain package's own dependency, loaded from there so that it resolves in any layout.
 */
function webIdentityProvider(init: Record<string, unknown>): () => Promise<ChainCredentials> {
  const chainEntry = createRequire(import.meta.url).resolve(CHAIN_PACKAGE);
  const { fromTokenFile } = createRequire(chainEntry)(WEB_IDENTITY_PACKAGE) as WebIdentityModule;
  return fromTokenFile(init);
}

/** Sorts the chain's failures into "try again later" (503) and "this cannot work" (502). */
function chainFailure(error: unknown): CredentialFetchError {
  const failure = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = Number(failure.$metadata?.httpStatusCode);
  const transient = isTransientFailure(failure.code, status) || failure.name === 'TimeoutError';
  // The SDK names a service error after the code the service sent (AccessDenied): useful to the
  // operator, and upstream text, so escaped and capped.
  const name = typeof failure.name === 'string' ? logText(failure.name, 64) : errorClass(error);
  return transient
    ? new CredentialFetchError(`the AWS credential source is unreachable (${name})`, 'unavailable')
    : new CredentialFetchError(`the AWS credential chain found nothing usable (${name})`, 'refused');
}

/** The chain's init from `profile` / `webIdentity` (their forms checked by the aws schema). */
function chainInit(options: AwsBackendOptions): Record<string, unknown> {
  const web = options.webIdentity;
  if (web !== undefined && options.profile !== undefined) {
    throw new ConfigError('aws.webIdentity', 'and aws.profile are two sources: give one');
  }
  if (options.profile !== undefined) return { profile: options.profile };
  if (web === undefined) return {};
  return {
    roleArn: web.roleArn,
    webIdentityTokenFile: web.tokenFile,
    roleSessionName: web.sessionName ?? 'portcullis',
  };
}
