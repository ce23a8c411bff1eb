import { writeFile } from 'node:fs/promises';
import { type FakeAwsSts, startFakeAwsSts } from './fake-aws-sts.js';
import { type FakeGoogleSts, startFakeGoogleSts } from './fake-google-sts.js';
import { tempDir } from './files.js';
import { freePort } from './loopback.js';

// The cloud SDKs (the optional peers backendAuth loads) find credentials and endpoints in the
// environment and in files under the home directory. A test file calls these at top level,
// before any SDK is loaded or any request made, so that the SDKs see none of this machine's
// settings and reach only the loopback fakes the file names.

/** What a test file undoes in its afterAll. */
export interface Isolation {
  close(): Promise<void>;
}

/** AWS SDK v3 settings that would bring in this machine's keys, profile, role, region or endpoint. */
const AWS_SETTINGS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_ENDPOINT_URL',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_STS_REGIONAL_ENDPOINTS',
];

/** Azure Identity settings that would bring in a service principal, a workload or a managed identity. */
const AZURE_SETTINGS = [
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  'AZURE_USERNAME',
  'AZURE_PASSWORD',
  'AZURE_FEDERATED_TOKEN_FILE',
  'AZURE_AUTHORITY_HOST',
  'AZURE_TOKEN_CREDENTIALS',
  'AZURE_POD_IDENTITY_AUTHORITY_HOST',
  'IDENTITY_SERVER_THUMBPRINT',
  'IMDS_ENDPOINT',
  'MSI_ENDPOINT',
  'MSI_SECRET',
];

/**
 * The AWS default chain: no keys from the environment, no IMDS, no container endpoint, and as
 * shared files only a fresh `credentials` (its text given) and an empty `config`.
 */
export async function isolateAws(credentials = ''): Promise<Isolation> {
  for (const name of AWS_SETTINGS) delete process.env[name];
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const files = await tempDir('portcullis-aws-');
  process.env.AWS_SHARED_CREDENTIALS_FILE = files.file('credentials');
  process.env.AWS_CONFIG_FILE = files.file('config');
  await writeFile(files.file('credentials'), credentials);
  await writeFile(files.file('config'), '');
  return { close: () => files.remove() };
}

/**
 * Google ADC: no key file, no gcloud user credentials, a fixed project (so google-auth-library
 * does not shell out to a local `gcloud` for one). The metadata server is `metadataHost`, or
 * without one an unused port that is never even probed.
 */
export async function isolateGoogle(metadataHost?: string): Promise<Isolation> {
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  delete process.env.google_application_credentials;
  delete process.env.GCE_METADATA_IP;
  process.env.GCE_METADATA_HOST = metadataHost ?? `127.0.0.1:${await freePort()}`;
  process.env.METADATA_SERVER_DETECTION = metadataHost === undefined ? 'none' : 'ping-only';
  const gcloudConfig = await tempDir('portcullis-gcloud-');
  process.env.CLOUDSDK_CONFIG = gcloudConfig.path;
  process.env.GOOGLE_CLOUD_PROJECT = 'fake-project';
  return { close: () => gcloudConfig.remove() };
}

/** Azure Identity: no service principal, workload identity or managed identity of this machine's. */
export function isolateAzure(): void {
  for (const name of AZURE_SETTINGS) delete process.env[name];
}

/** Fakes of the token services AWS web identity and Google external_account credentials call. */
export interface FakeTokenServices extends Isolation {
  /** AWS STS (AssumeRoleWithWebIdentity), at AWS_ENDPOINT_URL_STS. */
  sts: FakeAwsSts;
  /** Google STS and IAM Credentials, named by an external_account file's `token_url`. */
  googleSts: FakeGoogleSts;
}

/**
 * AWS and Google isolated as above, AWS STS and Google STS faked on loopback: the token
 * exchanges of a workload on EKS. Recent SDK v3 clients take AWS_ENDPOINT_URL_<SERVICE>
 * (@smithy/core's getEndpointUrlConfig), and so does the STS client nested in the web identity
 * provider.
 */
export async function startFakeTokenServices(): Promise<FakeTokenServices> {
  const aws = await isolateAws();
  // As EKS sets it beside the web identity variables (it is STS's region, not the signing one).
  process.env.AWS_REGION = 'us-east-1';
  const sts = await startFakeAwsSts();
  process.env.AWS_ENDPOINT_URL_STS = sts.url;
  const google = await isolateGoogle();
  const googleSts = await startFakeGoogleSts();
  return {
    sts,
    googleSts,
    async close() {
      await sts.close();
      await googleSts.close();
      await aws.close();
      await google.close();
    },
  };
}
