import { bearerChallenge } from './challenge.js';
import type { Locator } from './credentials/location.js';
import { type CredentialReader, readersOf } from './credentials/read-locations.js';
import { AuthError } from './errors.js';
import type { MessageHead } from './http/headers.js';
import type { RequestHost } from './http/request-host.js';
import type { AuthPart } from './identity.js';

/** What one scheme says about the credential it was handed. */
export type Verdict = { ok: true; identity: AuthPart } | { ok: false; error: AuthError };

/**
 * One inbound scheme (jwt, basic, apiKey, custom) reduced to what differs between schemes:
 * where its credential is, how it challenges, and how it checks a credential. Reading,
 * modes, stripping and identity attachment are shared (see `inbound.ts`).
 */
export interface Authenticator {
  /** The `method` recorded on the identity: 'jwt', 'basic', 'apiKey', or a custom name. */
  readonly method: string;
  readonly locator: Locator;
  /** 401 with WWW-Authenticate, or 407 with Proxy-Authenticate for proxy credentials. */
  readonly missingStatus: 401 | 407;
  /** The challenge this scheme sends; with a code, the RFC 6750 error form where it applies. */
  challenge(problem?: { code: string; description: string }): string;
  /** Checks a credential found at the locator. Never throws for bad input. */
  authenticate(credential: string, host: RequestHost): Verdict | Promise<Verdict>;
  /** Releases timers, watchers and connections. */
  close(): Promise<void>;
}

/** The header a scheme's challenge travels in. */
export function challengeHeader(authenticator: Pick<Authenticator, 'missingStatus'>): string {
  return authenticator.missingStatus === 407 ? 'proxy-authenticate' : 'www-authenticate';
}

/**
 * RFC 7235: a credential expected in `Proxy-Authorization` is asked for with 407 and
 * `Proxy-Authenticate`; every other location with 401 and `WWW-Authenticate`.
 */
export function missingStatusAt(locator: Locator): 401 | 407 {
  const location = locator.location;
  return 'header' in location && location.header.name.toLowerCase() === 'proxy-authorization' ? 407 : 401;
}

/**
 * No credential presented to any of `readers`: one refusal carrying each scheme's challenge
 * (without error attributes, RFC 6750 section 3.1), each in its own header value. 407 only
 * when every scheme reads a proxy credential.
 */
export function credentialsMissing(
  readers: readonly Pick<CredentialReader, 'missingStatus' | 'challenge'>[],
): AuthError {
  const headers: Record<string, string[]> = {};
  for (const reader of readers) {
    const name = challengeHeader(reader);
    const challenge = reader.challenge();
    const list = headers[name] ?? [];
    if (!list.includes(challenge)) list.push(challenge);
    headers[name] = list;
  }
  const status = readers.every((reader) => reader.missingStatus === 407) ? 407 : 401;
  return new AuthError(status, 'credentials_missing', 'Authentication is required', headers);
}

// With no inbound scheme in front at all, the client is told to bring a bearer token: the
// scheme every default location expects. "api" is the default realm of jwt, apiKey and custom.
const NO_SCHEME = [{ missingStatus: 401, challenge: () => bearerChallenge('api') }] as const;

/**
 * What a step after authentication (requireScopes, authorize) answers when the request
 * reached it with no identity: 401 with the challenges of the schemes that ran on it (an
 * `optional` scheme that found nothing, a public path), or a plain Bearer challenge when none
 * did. Never 403: nobody was identified, so nobody was refused for who they are.
 */
export function authenticationRequired(message: MessageHead): AuthError {
  const readers = readersOf(message);
  return credentialsMissing(readers.length > 0 ? readers : NO_SCHEME);
}

/** A refusal of the presented credential (or its absence), carrying the scheme's challenge. */
export function credentialError(
  authenticator: Authenticator,
  code: string,
  description: string,
  status: number = authenticator.missingStatus,
): AuthError {
  const challenge =
    code === 'credentials_missing'
      ? authenticator.challenge()
      : authenticator.challenge({ code, description });
  return new AuthError(status, code, description, { [challengeHeader(authenticator)]: challenge });
}

/** A refusal that is not the client's fault: the key source or token endpoint is down. */
export function unavailableError(retryAfterSeconds: number): AuthError {
  return new AuthError(
    503,
    'temporarily_unavailable',
    'The credential cannot be checked right now; retry later',
    {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
    },
  );
}
