import {
  atMostOneOf,
  type Locked,
  optionsObject,
  parseOptions,
  refined,
  text,
  z,
} from '../../config/schema.js';
import type { SecretSource } from '../../config/secret.js';
import { ConfigError } from '../../errors.js';
import { secretSource } from '../option-parts.js';
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

const NAME = /^[a-z0-9-]+$/;
const scopeName = () =>
  z.string({ error: 'must be lower-case letters, digits and dashes, such as "us-east-1"' }).regex(NAME);

const WEB_IDENTITY = optionsObject(
  'aws.webIdentity',
  {
    roleArn: z.string({ error: 'must be a role ARN' }).startsWith('arn:'),
    tokenFile: text('must be the path of the OIDC token file'),
    sessionName: text('must be a role session name').optional(),
  },
  { webIdentityTokenFile: 'tokenFile', roleSessionName: 'sessionName', role: 'roleArn' },
);

/** The aws options: one definition for their check, their field paths and their type. */
const AWS = refined(
  optionsObject(
    'aws',
    {
      accessKeyId: secretSource().optional(),
      secretAccessKey: secretSource().optional(),
      sessionToken: secretSource().optional(),
      region: scopeName().optional(),
      service: scopeName().optional(),
      serviceName: scopeName().optional(),
      profile: text('must be a profile name').optional(),
      webIdentity: WEB_IDENTITY.optional(),
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
  ),
  atMostOneOf(['service', 'serviceName'], 'they name one thing'),
);

// The documented interface and the schema describe one shape.
const locked: Locked<AwsBackendOptions, z.output<typeof AWS>> = true;
void locked;

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
 * Checks the aws options at start-up; returns them parsed (a plain copy) and where they sign.
 * `upstream` is the fixed upstream, when there is one: a missing region or service is then
 * found in its host (or reported) now. Without one, the region is read from each request's host
 * when it is signed.
 */
export function readAwsOptions(
  given: AwsBackendOptions,
  upstream: URL | undefined,
): { options: AwsBackendOptions; signing: AwsSigningOptions } {
  const options = parseOptions(AWS, given, 'aws');
  const fromHost = upstream === undefined ? {} : awsHostScope(upstream.hostname);
  const region = options.region;
  if (region === undefined && upstream !== undefined && fromHost.region === undefined) {
    throw new ConfigError(
      'aws.region',
      `is required: the upstream host ${upstream.hostname} names no region`,
    );
  }
  const service = options.service ?? options.serviceName;
  if (service === undefined && upstream !== undefined && fromHost.service === undefined) {
    throw new ConfigError(
      'aws.service',
      `is required: the upstream host ${upstream.hostname} is not an AWS host`,
    );
  }
  return { options, signing: { region, upstreamRegion: fromHost.region, service } };
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
