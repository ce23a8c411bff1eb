import { atMostOne, keysOf, refuseUnknownKeys } from '../../config/known-keys.js';
import type { SecretSource } from '../../config/secret.js';
import { ConfigError } from '../../errors.js';
import { awsHostScope } from './host.js';

/**
 * AWS Signature Version 4 over the request the upstream receives. Without keys, credentials
 * come from the AWS default chain (environment, `profile` in the shared files, web identity,
 * SSO, ECS and EC2 metadata) through the optional peer `@aws-sdk/credential-provider-node`.
 */
export interface AwsBackendOptions {
  accessKeyId?: SecretSource;
  secretAccessKey?: SecretSource;
  sessionToken?: SecretSource;
  /**
   * Default: the region the upstream host names (`bedrock-runtime.us-east-1.amazonaws.com`),
   * read per request, so one instance signs for every region it is sent to.
   */
  region?: string;
  /** Default: `bedrock` for Bedrock runtime hosts, else the first label of an AWS host. */
  service?: string;
  /** agentgateway's name for `service`; give one of the two. */
  serviceName?: string;
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
    serviceName: true,
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
    // agentgateway's `assumeRole` calls STS AssumeRole with the ambient credentials: the same
    // is had here through a profile whose `role_arn` names the role.
    assumeRole: {
      say: 'is not supported: name a profile whose role_arn assumes the role (`profile`), or use `webIdentity: { roleArn, tokenFile }` on EKS',
    },
    signingName: 'service',
  },
);

const WEB_IDENTITY_KEYS = keysOf<NonNullable<AwsBackendOptions['webIdentity']>>()(
  'aws.webIdentity',
  { roleArn: true, tokenFile: true, sessionName: true },
  { webIdentityTokenFile: 'tokenFile', roleSessionName: 'sessionName', role: 'roleArn' },
);

const NAME = /^[a-z0-9-]+$/;

function checkedName(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new ConfigError(field, 'must be lower-case letters, digits and dashes, such as "us-east-1"');
  }
  return value;
}

/** Where SigV4 signs, as far as the options and the fixed upstream tell it at start-up. */
export interface AwsSigningOptions {
  /** `aws.region`: when given, it wins over the region any host names. */
  readonly region: string | undefined;
  /** The fixed upstream's region: used for a host that names none. */
  readonly upstreamRegion: string | undefined;
  /** `aws.service` (or `serviceName`): when given, it wins over the host's. */
  readonly service: string | undefined;
}

/**
 * Checks the aws options at start-up. `upstream` is the fixed upstream, when there is one: a
 * missing region or service is then found in its host (or reported) now. Without one, the
 * region is read from each request's host when it is signed.
 */
export function readAwsOptions(options: AwsBackendOptions, upstream: URL | undefined): AwsSigningOptions {
  refuseUnknownKeys(options, AWS_KEYS, 'aws');
  if (options.webIdentity !== undefined)
    refuseUnknownKeys(options.webIdentity, WEB_IDENTITY_KEYS, 'aws.webIdentity');
  const fromHost = upstream === undefined ? {} : awsHostScope(upstream.hostname);
  const region = checkedName(options.region, 'aws.region');
  if (region === undefined && upstream !== undefined && fromHost.region === undefined) {
    throw new ConfigError(
      'aws.region',
      `is required: the upstream host ${upstream.hostname} names no region`,
    );
  }
  const serviceField = atMostOne(options, ['service', 'serviceName'], 'aws', 'they name one thing');
  const service = checkedName(
    serviceField === undefined ? undefined : options[serviceField],
    `aws.${serviceField ?? 'service'}`,
  );
  if (service === undefined && upstream !== undefined && fromHost.service === undefined) {
    throw new ConfigError(
      'aws.service',
      `is required: the upstream host ${upstream.hostname} is not an AWS host`,
    );
  }
  return { region, upstreamRegion: fromHost.region, service };
}

/**
 * The region and service one request is signed for: each AWS host names its own region (one
 * instance may sign for several), a configured one wins, the fixed upstream's fills in. Undefined
 * where nothing tells it.
 */
export function signingScope(
  options: AwsSigningOptions,
  hostname: string,
): { region: string | undefined; service: string | undefined } {
  const scope = awsHostScope(hostname);
  return {
    region: options.region ?? scope.region ?? options.upstreamRegion,
    service: options.service ?? scope.service,
  };
}
