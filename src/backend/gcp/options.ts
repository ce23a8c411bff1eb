import {
  atMostOneOf,
  type Locked,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  text,
  z,
} from '../../config/schema.js';

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

/**
 * agentgateway's `credential: { file }` is `credentialsFile`. Its inline form (the JSON itself
 * as a string) is refused: here a credential is a file, which the library re-reads.
 */
const CREDENTIAL = z
  .unknown()
  .check((ctx) => {
    if (typeof ctx.value === 'string') {
      ctx.issues.push({
        code: 'custom',
        message:
          'inline credential JSON is not supported: write it to a file and give `{ file }` (or `credentialsFile`)',
        input: ctx.value,
      });
    }
  })
  .pipe(
    optionsObject(
      'gcp.credential',
      { file: text('must be a file path') },
      { path: 'file', filename: 'file', filePath: 'file' },
    ),
  );

const IMPERSONATE = optionsObject(
  'gcp.impersonate',
  {
    serviceAccount: z.string({ error: 'must be a service account email' }).includes('@'),
    delegates: z
      .array(text('must be a service account email'), { error: 'must be an array of service account emails' })
      .optional(),
  },
  { targetPrincipal: 'serviceAccount', email: 'serviceAccount', delegateChain: 'delegates' },
);

/** The gcp options: one definition for their check, their field paths and their type. */
const GCP = refined(
  optionsObject(
    'gcp',
    {
      type: z.enum(['accessToken', 'idToken'], { error: 'must be "accessToken" or "idToken"' }).optional(),
      audience: text('must be a non-empty string such as "https://my-service.run.app"').optional(),
      scopes: z
        .array(text('must be an OAuth2 scope'), { error: 'must be a non-empty array of OAuth2 scopes' })
        .min(1, { error: 'must be a non-empty array of OAuth2 scopes' })
        .optional(),
      credentialsFile: text('must be a file path').optional(),
      credential: CREDENTIAL.optional(),
      impersonate: IMPERSONATE.optional(),
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
  ),
  (options, ctx) => {
    const type = options.type ?? 'accessToken';
    if (options.audience !== undefined && type !== 'idToken')
      refuse(ctx, 'applies to type "idToken" only', 'audience');
    // An ID token has an audience, not scopes: scopes given with one were silently unused.
    if (options.scopes !== undefined && type !== 'accessToken')
      refuse(ctx, 'applies to type "accessToken" only (an ID token has an audience)', 'scopes');
    atMostOneOf<typeof options>(['credentialsFile', 'credential'], 'they name one credential file')(
      options,
      ctx,
    );
  },
);

// The documented interface and the schema describe one shape.
const locked: Locked<GcpBackendOptions, z.output<typeof GCP>> = true;
void locked;

/** Checks the gcp options at start-up; every mistake is a ConfigError naming the field. */
export function readGcpOptions(given: GcpBackendOptions): GcpSettings {
  const options = parseOptions(GCP, given, 'gcp');
  return {
    type: options.type ?? 'accessToken',
    audience: options.audience,
    scopes: options.scopes ?? [CLOUD_PLATFORM],
    credentialsFile: options.credential?.file ?? options.credentialsFile,
    impersonate: options.impersonate,
  };
}
