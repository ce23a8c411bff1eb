import { atMostOne, keysOf, refuseUnknownKeys } from '../../config/known-keys.js';
import { ConfigError } from '../../errors.js';

/**
 * A Google OAuth2 access token (Vertex AI, Google APIs) or an OIDC ID token (Cloud Run, IAP)
 * from Application Default Credentials, through the optional peer `google-auth-library`.
 */
export interface GcpBackendOptions {
  /** Default `accessToken`. */
  type?: 'accessToken' | 'idToken';
  /** ID tokens only; default `https://<upstream host>`. */
  audience?: string;
  /** Access tokens only; default `https://www.googleapis.com/auth/cloud-platform`. */
  scopes?: string[];
  /**
   * A service account key or an `external_account` (workload identity federation) file.
   * Default: ADC (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the metadata server).
   */
  credentialsFile?: string;
  /** agentgateway's form of `credentialsFile`: `{ file }` (an inline credential is refused). */
  credential?: { file: string };
  /** Impersonate this service account with the credentials found (IAM Credentials API). */
  impersonate?: { serviceAccount: string; delegates?: string[] };
}

/** The gcp options, checked, with their defaults. */
export interface GcpSettings {
  readonly type: 'accessToken' | 'idToken';
  readonly audience: string | undefined;
  readonly scopes: string[];
  readonly credentialsFile: string | undefined;
  readonly impersonate: { serviceAccount: string; delegates?: string[] } | undefined;
}

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

const GCP_KEYS = keysOf<GcpBackendOptions>()(
  'gcp',
  {
    type: true,
    audience: true,
    scopes: true,
    credentialsFile: true,
    credential: true,
    impersonate: true,
  },
  {
    keyFile: 'credentialsFile',
    keyFilename: 'credentialsFile',
    credentials: 'credentialsFile',
    targetAudience: 'audience',
    serviceAccount: 'impersonate: { serviceAccount }',
    targetPrincipal: 'impersonate: { serviceAccount }',
    tokenType: 'type',
  },
);

const IMPERSONATE_KEYS = keysOf<NonNullable<GcpBackendOptions['impersonate']>>()(
  'gcp.impersonate',
  { serviceAccount: true, delegates: true },
  { targetPrincipal: 'serviceAccount', email: 'serviceAccount', delegateChain: 'delegates' },
);

const CREDENTIAL_KEYS = keysOf<NonNullable<GcpBackendOptions['credential']>>()(
  'gcp.credential',
  { file: true },
  { path: 'file', filename: 'file', filePath: 'file' },
);

/**
 * agentgateway's `credential: { file }` is `credentialsFile`. Its inline form (the JSON itself
 * as a string) is refused: here a credential is a file, which the library re-reads.
 */
function credentialFile(credential: unknown): string {
  if (typeof credential === 'string') {
    throw new ConfigError(
      'gcp.credential',
      'inline credential JSON is not supported: write it to a file and give `{ file }` (or `credentialsFile`)',
    );
  }
  refuseUnknownKeys(credential, CREDENTIAL_KEYS, 'gcp.credential');
  const { file } = credential as { file?: unknown };
  if (typeof file !== 'string' || file === '')
    throw new ConfigError('gcp.credential.file', 'must be a file path');
  return file;
}

/** Checks the gcp options at start-up; every mistake is a ConfigError naming the field. */
export function readGcpOptions(options: GcpBackendOptions): GcpSettings {
  refuseUnknownKeys(options, GCP_KEYS, 'gcp');
  if (options.impersonate !== undefined)
    refuseUnknownKeys(options.impersonate, IMPERSONATE_KEYS, 'gcp.impersonate');
  const type = options.type ?? 'accessToken';
  if (type !== 'accessToken' && type !== 'idToken') {
    throw new ConfigError('gcp.type', 'must be "accessToken" or "idToken"');
  }
  if (options.audience !== undefined && (typeof options.audience !== 'string' || options.audience === '')) {
    throw new ConfigError('gcp.audience', 'must be a non-empty string such as "https://my-service.run.app"');
  }
  if (options.audience !== undefined && type !== 'idToken') {
    throw new ConfigError('gcp.audience', 'applies to type "idToken" only');
  }
  if (options.scopes !== undefined && (!Array.isArray(options.scopes) || options.scopes.length === 0)) {
    throw new ConfigError('gcp.scopes', 'must be a non-empty array of OAuth2 scopes');
  }
  // An ID token has an audience, not scopes: scopes given with one were silently unused.
  if (options.scopes !== undefined && type !== 'accessToken') {
    throw new ConfigError('gcp.scopes', 'applies to type "accessToken" only (an ID token has an audience)');
  }
  atMostOne(options, ['credentialsFile', 'credential'], 'gcp', 'they name one credential file');
  const credentialsFile =
    options.credential === undefined ? options.credentialsFile : credentialFile(options.credential);
  if (credentialsFile !== undefined && (typeof credentialsFile !== 'string' || credentialsFile === '')) {
    throw new ConfigError('gcp.credentialsFile', 'must be a file path');
  }
  const impersonate = options.impersonate;
  if (
    impersonate !== undefined &&
    (typeof impersonate?.serviceAccount !== 'string' || !impersonate.serviceAccount.includes('@'))
  ) {
    throw new ConfigError('gcp.impersonate.serviceAccount', 'must be a service account email');
  }
  return {
    type,
    audience: options.audience,
    scopes: options.scopes ?? [CLOUD_PLATFORM],
    credentialsFile,
    impersonate,
  };
}
