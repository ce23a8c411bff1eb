import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { ConfigError } from '../errors.js';
import { isHeaderSafe } from '../http/header-value.js';
import { setHeader } from '../http/headers.js';
import type { Logger } from '../logger.js';
import { errorClass, logText } from '../logging/log-text.js';
import type { ForwardedRequest } from './forwarded.js';
import type { CredentialKind } from './kind.js';
import { loadOptionalPeer } from './optional-peer.js';
import {
  CredentialFetchError,
  type Expiring,
  isTransientFailure,
  RefreshingCredential,
} from './refreshing.js';

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
  /** Impersonate this service account with the credentials found (IAM Credentials API). */
  impersonate?: { serviceAccount: string; delegates?: string[] };
}

interface GoogleClient {
  getAccessToken(): Promise<{ token?: string | null }>;
  credentials?: { expiry_date?: number | null };
  fetchIdToken?(audience: string, options?: { includeEmail?: boolean }): Promise<string>;
}

interface GoogleAuthLibrary {
  GoogleAuth: new (options: {
    keyFilename?: string;
    scopes?: string[];
  }) => {
    getClient(): Promise<GoogleClient>;
    getIdTokenClient(
      audience: string,
    ): Promise<{ idTokenProvider: { fetchIdToken(audience: string): Promise<string> } }>;
  };
  Impersonated: new (options: {
    sourceClient: GoogleClient;
    targetPrincipal: string;
    delegates: string[];
    targetScopes: string[];
    lifetime: number;
  }) => GoogleClient;
}

const PACKAGE = 'google-auth-library';
const MAX_AUDIENCES = 100;
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** The token's own `exp` claim, read without verifying: we are its bearer, not its audience. */
function jwtExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Sorts google-auth-library's failures into "try again later" and "this cannot work". */
function classify(error: unknown): CredentialFetchError {
  if (error instanceof CredentialFetchError) return error;
  const failure = error as {
    code?: unknown;
    status?: unknown;
    response?: { status?: unknown; data?: { error?: unknown } };
  };
  const status = Number(failure.response?.status ?? failure.status);
  const transient = isTransientFailure(failure.code, status);
  // The token service's OAuth error code (`invalid_grant`) helps the operator; its description
  // and the library's message quote the answer, and are not logged.
  const code = failure.response?.data?.error;
  const reason = Number.isFinite(status)
    ? `HTTP ${status}${typeof code === 'string' ? ` ${logText(code, 64)}` : ''}`
    : errorClass(error);
  return new CredentialFetchError(
    `Google credentials failed (${reason})`,
    transient ? 'unavailable' : 'refused',
  );
}

function usableToken(token: string | null | undefined): string {
  if (typeof token !== 'string' || token === '' || !isHeaderSafe(token)) {
    throw new CredentialFetchError('Google returned an unusable token', 'refused');
  }
  return token;
}

const GCP_KEYS = keysOf<GcpBackendOptions>()(
  'gcp',
  { type: true, audience: true, scopes: true, credentialsFile: true, impersonate: true },
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

function checkOptions(options: GcpBackendOptions): void {
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
  if (
    options.credentialsFile !== undefined &&
    (typeof options.credentialsFile !== 'string' || options.credentialsFile === '')
  ) {
    throw new ConfigError('gcp.credentialsFile', 'must be a file path');
  }
  const impersonate = options.impersonate;
  if (
    impersonate !== undefined &&
    (typeof impersonate?.serviceAccount !== 'string' || !impersonate.serviceAccount.includes('@'))
  ) {
    throw new ConfigError('gcp.impersonate.serviceAccount', 'must be a service account email');
  }
}

/** Builds the Google kind: one cached token per audience, so one instance serves many upstreams. */
export function gcpKind(options: GcpBackendOptions, logger: Logger): CredentialKind {
  checkOptions(options);
  const type = options.type ?? 'accessToken';
  const scopes = options.scopes ?? [CLOUD_PLATFORM];
  let source: Promise<GoogleClient & { idTokens(audience: string): Promise<string> }> | undefined;

  const client = () => {
    source ??= (async () => {
      const google = await loadOptionalPeer<GoogleAuthLibrary>(PACKAGE, 'backendAuth gcp');
      const auth = new google.GoogleAuth({
        ...(options.credentialsFile === undefined ? {} : { keyFilename: options.credentialsFile }),
        scopes,
      });
      const base = await auth.getClient();
      const target = options.impersonate;
      if (target === undefined) {
        return Object.assign(base, {
          idTokens: async (audience: string) =>
            (await auth.getIdTokenClient(audience)).idTokenProvider.fetchIdToken(audience),
        });
      }
      const impersonated = new google.Impersonated({
        sourceClient: base,
        targetPrincipal: target.serviceAccount,
        delegates: target.delegates ?? [],
        targetScopes: scopes,
        lifetime: 3600,
      });
      return Object.assign(impersonated, {
        idTokens: (audience: string) => impersonated.fetchIdToken!(audience, { includeEmail: true }),
      });
    })().catch((error: unknown) => {
      source = undefined; // a failure to find credentials is retried, never remembered
      throw error;
    });
    return source;
  };

  const fetchToken = async (audience: string | undefined, signal: AbortSignal): Promise<Expiring<string>> => {
    // A client still being built when the fetch times out is dropped: the next request builds
    // a new one rather than waiting on one that may never settle.
    const pending = client();
    let settled = false;
    signal.addEventListener('abort', () => {
      if (!settled && source === pending) source = undefined;
    });
    try {
      const google = await pending;
      settled = true;
      if (audience === undefined) {
        const { token } = await google.getAccessToken();
        const expiry = google.credentials?.expiry_date;
        return { value: usableToken(token), ...(typeof expiry === 'number' ? { expiresAt: expiry } : {}) };
      }
      const token = usableToken(await google.idTokens(audience));
      const expiresAt = jwtExpiry(token);
      return { value: token, ...(expiresAt === undefined ? {} : { expiresAt }) };
    } catch (error) {
      throw classify(error);
    }
  };

  // One cached token per audience, bounded: an `upstream` function naming many hosts must not
  // grow the map (or the token fetches) without limit. The oldest audience goes first.
  const tokens = new Map<string, RefreshingCredential<string>>();
  const tokenFor = (audience: string | undefined) => {
    const key = audience ?? '';
    let token = tokens.get(key);
    if (token === undefined) {
      if (tokens.size >= MAX_AUDIENCES) tokens.delete(tokens.keys().next().value as string);
      token = new RefreshingCredential((signal) => fetchToken(audience, signal), {
        name: `backendAuth gcp ${type}`,
        logger,
      });
      tokens.set(key, token);
    }
    return token;
  };

  return {
    name: 'gcp',
    needsUpstream: type === 'idToken' && options.audience === undefined,
    async apply(request: ForwardedRequest) {
      let audience: string | undefined;
      if (type === 'idToken') {
        const url = request.upstreamUrl();
        audience = options.audience ?? (url === undefined ? undefined : `https://${url.host}`);
        if (audience === undefined)
          throw new CredentialFetchError('no audience: set gcp.audience or an upstream', 'refused');
      }
      setHeader(request.message, 'authorization', `Bearer ${await tokenFor(audience).get()}`);
    },
    close() {},
  };
}
