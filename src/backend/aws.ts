import { createRequire } from 'node:module';
import aws4 from 'aws4';
import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { optionalSecret, type Secret, type SecretSource } from '../config/secret.js';
import { ConfigError } from '../errors.js';
import { isHeaderSafe } from '../http/header-value.js';
import { deleteHeader, headerSpellingKey, setHeader } from '../http/headers.js';
import type { Logger } from '../logger.js';
import { errorClass, logText } from '../logging/log-text.js';
import type { ForwardedRequest } from './forwarded.js';
import type { CredentialKind } from './kind.js';
import { loadOptionalPeer } from './optional-peer.js';
import { CredentialFetchError, isTransientFailure, RefreshingCredential } from './refreshing.js';

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

const AWS_KEYS = keysOf<AwsBackendOptions>()(
  'aws',
  {
    accessKeyId: true,
    secretAccessKey: true,
    sessionToken: true,
    region: true,
    service: true,
    profile: true,
    webIdentity: true,
  },
  {
    accessKey: 'accessKeyId',
    secretKey: 'secretAccessKey',
    secretAccessKeyId: 'secretAccessKey',
    token: 'sessionToken',
    credentials: { say: 'give accessKeyId and secretAccessKey (or leave both out for the default chain)' },
    roleArn: 'webIdentity: { roleArn, tokenFile }',
    webIdentityTokenFile: 'webIdentity: { roleArn, tokenFile }',
    signingName: 'service',
    serviceName: 'service',
  },
);

const WEB_IDENTITY_KEYS = keysOf<NonNullable<AwsBackendOptions['webIdentity']>>()(
  'aws.webIdentity',
  { roleArn: true, tokenFile: true, sessionName: true },
  { webIdentityTokenFile: 'tokenFile', roleSessionName: 'sessionName', role: 'roleArn' },
);

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

/**
 * A request target in the form it is both signed and sent: WHATWG-normalized (dot segments
 * resolved, `{ } "` escaped), then with what aws4 would escape again (`|`, non-ASCII) escaped
 * already. Idempotent, so the proxy and the signature see the same bytes.
 */
function signablePathAndQuery(target: string): string {
  const url = new URL(target, 'http://signing.invalid');
  let path = url.pathname;
  if (/[^0-9A-Za-z;,/?:@&=+$\-_.!~*'()#%]/.test(path)) path = encodeURI(decodeURI(path));
  return `${path}${url.search}`;
}

/** x-amz-date: basic ISO 8601, to the second. */
function amzDate(now: Date): string {
  return now.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

function credentialSource(
  options: AwsBackendOptions,
  region: string,
  logger: Logger,
): { get(): Promise<AwsCredentials>; close(): void } {
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
  const init = chainInit(options, region);
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

function chainInit(options: AwsBackendOptions, region: string): Record<string, unknown> {
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
    // STS in the signing region, not the SDK's us-east-1 fallback.
    init.clientConfig = { region };
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
  refuseUnknownKeys(options, AWS_KEYS, 'aws');
  if (options.webIdentity !== undefined)
    refuseUnknownKeys(options.webIdentity, WEB_IDENTITY_KEYS, 'aws.webIdentity');
  const fromHost = upstream === undefined ? {} : awsHostScope(upstream.hostname);
  const configuredRegion = checkedName(options.region, 'aws.region');
  const region = configuredRegion ?? fromHost.region;
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
  const credentials = credentialSource(options, region, logger);

  return {
    name: 'aws',
    needsUpstream: true,
    async apply(request: ForwardedRequest) {
      // The path is sent as it is signed: normalized once, here, for the proxy and aws4 alike.
      try {
        const sent = request.message.url ?? '/';
        if (signablePathAndQuery(sent) !== sent) request.editUrl(signablePathAndQuery);
      } catch {
        throw new CredentialFetchError('the request path cannot be signed as sent', 'refused');
      }
      const url = request.upstreamUrl();
      if (url === undefined) throw new CredentialFetchError('no upstream URL to sign', 'refused');
      const scope = awsHostScope(url.hostname);
      // One instance may sign for several hosts: each AWS host names its own region.
      const signingRegion = configuredRegion ?? scope.region ?? region;
      const signingService = service ?? scope.service;
      if (signingService === undefined) {
        throw new CredentialFetchError(`no service for ${url.hostname}: set aws.service`, 'refused');
      }
      const message = request.message;
      // The client's own signing headers (any spelling: `x_amz_date`) would be signed along, or
      // contradict ours.
      for (const name of Object.keys(message.headers)) {
        if (headerSpellingKey(name).startsWith('x-amz-')) deleteHeader(message, name);
      }
      const [body, keys] = await Promise.all([request.body(), credentials.get()]);
      // Only host, content-type and x-amz-* are signed: a proxy may rewrite the rest
      // (content-length to chunked, connection, x-forwarded-*) without breaking the signature.
      const datetime = amzDate(new Date());
      const signed: Record<string, string> = { host: url.host, 'x-amz-date': datetime };
      const contentType = message.headers['content-type'];
      if (typeof contentType === 'string') signed['content-type'] = contentType;
      if (keys.sessionToken !== undefined) signed['x-amz-security-token'] = keys.sessionToken;
      const signer = new aws4.RequestSigner(
        {
          method: request.method,
          host: url.host,
          path: `${url.pathname}${url.search}`,
          service: signingService,
          region: signingRegion,
          headers: signed,
          body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          doNotModifyHeaders: true,
        },
        keys,
      );
      // The signature and the x-amz-date header must come from one reading of the clock: aws4
      // would read it again, and a second (or a day) may turn in between.
      signer.datetime = datetime;
      const authorization = (signer.sign().headers as Record<string, string>).Authorization;
      if (authorization === undefined)
        throw new CredentialFetchError('SigV4 signing produced no signature', 'refused');
      for (const [name, value] of Object.entries(signed)) setHeader(message, name, value);
      setHeader(message, 'authorization', authorization);
    },
    close: credentials.close,
  };
}
