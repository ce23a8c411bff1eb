import { createRequire } from 'node:module';
import aws4 from 'aws4';
import { optionalSecret, type Secret, type SecretSource } from '../config/secret.js';
import { ConfigError } from '../errors.js';
import { deleteHeader, setHeader } from '../http/headers.js';
import type { Logger } from '../logger.js';
import type { ForwardedRequest } from './forwarded.js';
import type { CredentialKind } from './kind.js';
import { loadOptionalPeer } from './optional-peer.js';
import { CredentialFetchError, RefreshingCredential } from './refreshing.js';

/**
 * AWS Signature Version 4 over the request the upstream receives. Without keys, credentials
 * come from the AWS default chain (environment, `profile` in the shared files, web identity,
 * SSO, ECS and EC2 metadata) through the optional peer `@aws-sdk/credential-provider-node`.
 */
export interface AwsBackendOptions {
  accessKeyId?: SecretSource;
  secretAccessKey?: SecretSource;
  sessionToken?: SecretSource;
  /** Default: the region in the upstream host (`bedrock-runtime.us-east-1.amazonaws.com`). */
  region?: string;
  /** Default: `bedrock` for Bedrock runtime hosts, else the first label of an AWS host. */
  service?: string;
  /** A profile of `~/.aws/credentials` / `~/.aws/config` (default chain). */
  profile?: string;
  /** OIDC web identity (AssumeRoleWithWebIdentity), as EKS IRSA sets it up. */
  webIdentity?: { roleArn: string; tokenFile: string; sessionName?: string };
}

/** What SigV4 signs with. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
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
// aws4 guesses the service from the first host label, which is wrong for Bedrock
// ("bedrock-runtime"): its signing name is "bedrock".
const BEDROCK_HOST =
  /^bedrock(?:-agent)?-runtime(?:-fips)?\.([a-z]{2}(?:-gov)?-[a-z]+-\d+)\.amazonaws\.com(?:\.cn)?$/;
const AWS_HOST = /^([a-z0-9-]+?)(?:-fips)?\.([a-z]{2}(?:-gov)?-[a-z]+-\d+)\.amazonaws\.com(?:\.cn)?$/;
const NAME = /^[a-z0-9-]+$/;

/** The signing region and service an AWS host implies, when it implies them. */
export function awsHostScope(hostname: string): { region?: string; service?: string } {
  const bedrock = BEDROCK_HOST.exec(hostname);
  if (bedrock !== null) return { region: bedrock[1], service: 'bedrock' };
  const aws = AWS_HOST.exec(hostname);
  return aws === null ? {} : { region: aws[2], service: aws[1] };
}

function checkedName(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ConfigError(field, 'must be lower-case letters, digits and dashes, such as "us-east-1"');
  }
  return value;
}

/** x-amz-date: basic ISO 8601, to the second. */
function amzDate(now: Date): string {
  return now.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

function credentialSource(
  options: AwsBackendOptions,
  logger: Logger,
): { get(): Promise<AwsCredentials>; close(): void } {
  const accessKeyId = optionalSecret(options.accessKeyId, 'aws.accessKeyId', logger);
  const secretAccessKey = optionalSecret(options.secretAccessKey, 'aws.secretAccessKey', logger);
  const sessionToken = optionalSecret(options.sessionToken, 'aws.sessionToken', logger);
  const secrets = [accessKeyId, secretAccessKey, sessionToken].filter((s): s is Secret => s !== undefined);
  const close = () => {
    for (const secret of secrets) secret.close();
  };
  if (accessKeyId !== undefined || secretAccessKey !== undefined) {
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
  const init = chainInit(options);
  let provider: (() => Promise<ChainCredentials>) | undefined;
  const cached = new RefreshingCredential<AwsCredentials>(
    async () => {
      if (provider === undefined) {
        const chain = await loadOptionalPeer<CredentialProviderModule>(
          CHAIN_PACKAGE,
          'backendAuth aws without keys',
        );
        provider =
          init.webIdentityTokenFile === undefined ? chain.defaultProvider(init) : webIdentityProvider(init);
      }
      let found: ChainCredentials;
      try {
        found = await provider();
      } catch (error) {
        throw new CredentialFetchError(
          `the AWS credential chain found nothing: ${(error as Error).name}`,
          'refused',
        );
      }
      const { accessKeyId: id, secretAccessKey: key, sessionToken: token, expiration } = found;
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
  return { get: () => cached.get(), close };
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

function chainInit(options: AwsBackendOptions): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (options.profile !== undefined) {
    if (typeof options.profile !== 'string' || options.profile === '') {
      throw new ConfigError('aws.profile', 'must be a profile name');
    }
    init.profile = options.profile;
  }
  const web = options.webIdentity;
  if (web !== undefined && options.profile !== undefined) {
    throw new ConfigError('aws.webIdentity', 'and aws.profile are two sources: give one');
  }
  if (web !== undefined) {
    if (typeof web?.roleArn !== 'string' || !web.roleArn.startsWith('arn:')) {
      throw new ConfigError('aws.webIdentity.roleArn', 'must be a role ARN');
    }
    if (typeof web.tokenFile !== 'string' || web.tokenFile === '') {
      throw new ConfigError('aws.webIdentity.tokenFile', 'must be the path of the OIDC token file');
    }
    init.roleArn = web.roleArn;
    init.webIdentityTokenFile = web.tokenFile;
    init.roleSessionName = web.sessionName ?? 'portcullis';
  }
  return init;
}

/**
 * Builds the SigV4 kind. `upstream` is the fixed upstream, when there is one: it lets a
 * missing region be found (or reported) at start-up.
 */
export function awsKind(
  options: AwsBackendOptions,
  upstream: URL | undefined,
  logger: Logger,
): CredentialKind {
  if (typeof options !== 'object' || options === null) throw new ConfigError('aws', 'must be an object');
  const fromHost = upstream === undefined ? {} : awsHostScope(upstream.hostname);
  const region = checkedName(options.region, 'aws.region') ?? fromHost.region;
  if (region === undefined) {
    throw new ConfigError(
      'aws.region',
      upstream === undefined
        ? 'is required (or give an upstream whose host names it)'
        : `is required: the upstream host ${upstream.hostname} names no region`,
    );
  }
  const service = checkedName(options.service, 'aws.service');
  if (service === undefined && upstream !== undefined && fromHost.service === undefined) {
    throw new ConfigError(
      'aws.service',
      `is required: the upstream host ${upstream.hostname} is not an AWS host`,
    );
  }
  const credentials = credentialSource(options, logger);

  return {
    name: 'aws',
    needsUpstream: true,
    async apply(request: ForwardedRequest) {
      const url = request.upstreamUrl();
      if (url === undefined) throw new CredentialFetchError('no upstream URL to sign', 'refused');
      const signingService = service ?? awsHostScope(url.hostname).service;
      if (signingService === undefined) {
        throw new CredentialFetchError(`no service for ${url.hostname}: set aws.service`, 'refused');
      }
      const message = request.message;
      // The client's own signing headers would be signed along, or contradict ours.
      for (const name of Object.keys(message.headers)) {
        if (name.startsWith('x-amz-')) deleteHeader(message, name);
      }
      const [body, keys] = await Promise.all([request.body(), credentials.get()]);
      // Only host, content-type and x-amz-* are signed: a proxy may rewrite the rest
      // (content-length to chunked, connection, x-forwarded-*) without breaking the signature.
      const signed: Record<string, string> = { host: url.host, 'x-amz-date': amzDate(new Date()) };
      const contentType = message.headers['content-type'];
      if (typeof contentType === 'string') signed['content-type'] = contentType;
      if (keys.sessionToken !== undefined) signed['x-amz-security-token'] = keys.sessionToken;
      const result = aws4.sign(
        {
          method: request.method,
          host: url.host,
          path: `${url.pathname}${url.search}`,
          service: signingService,
          region,
          headers: signed,
          body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          doNotModifyHeaders: true,
        },
        keys,
      );
      const authorization = (result.headers as Record<string, string>).Authorization;
      if (authorization === undefined)
        throw new CredentialFetchError('SigV4 signing produced no signature', 'refused');
      for (const [name, value] of Object.entries(signed)) setHeader(message, name, value);
      setHeader(message, 'authorization', authorization);
    },
    close: credentials.close,
  };
}
