import type { Locator } from './credentials/location.js';
import { AuthError } from './errors.js';
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
export function challengeHeader(authenticator: Authenticator): string {
  return authenticator.missingStatus === 407 ? 'proxy-authenticate' : 'www-authenticate';
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
