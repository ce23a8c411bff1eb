import { isHeaderSafe } from '../../http/header-value.js';
import type { Logger } from '../../logger.js';
import { errorClass, logText } from '../../logging/log-text.js';
import { loadOptionalPeer } from '../optional-peer.js';
import {
  CredentialFetchError,
  type Expiring,
  isTransientFailure,
  RefreshingCredential,
} from '../refreshing.js';
import type { GcpSettings } from './options.js';

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

/** Google tokens, one cached per audience (`undefined`: the access token). */
export interface GoogleTokens {
  get(audience: string | undefined): Promise<string>;
}

const PACKAGE = 'google-auth-library';
const MAX_AUDIENCES = 100;

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

/** Fetches Google tokens with ADC (or a credentials file), impersonating when asked. */
export function googleTokens(settings: GcpSettings, logger: Logger): GoogleTokens {
  const { scopes } = settings;
  let source: Promise<GoogleClient & { idTokens(audience: string): Promise<string> }> | undefined;

  const client = () => {
    source ??= (async () => {
      const google = await loadOptionalPeer<GoogleAuthLibrary>(PACKAGE, 'backendAuth gcp');
      const auth = new google.GoogleAuth({
        ...(settings.credentialsFile === undefined ? {} : { keyFilename: settings.credentialsFile }),
        scopes,
      });
      const base = await auth.getClient();
      const target = settings.impersonate;
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
  return {
    get(audience) {
      const key = audience ?? '';
      let token = tokens.get(key);
      if (token === undefined) {
        if (tokens.size >= MAX_AUDIENCES) tokens.delete(tokens.keys().next().value as string);
        token = new RefreshingCredential((signal) => fetchToken(audience, signal), {
          name: `backendAuth gcp ${settings.type}`,
          logger,
        });
        tokens.set(key, token);
      }
      return token.get();
    },
  };
}
