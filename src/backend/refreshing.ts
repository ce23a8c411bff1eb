import type { Logger } from '../logger.js';
import { errorClass } from '../logging/log-text.js';

/** A credential from a cloud token service, with the time it stops being valid. */
export interface Expiring<T> {
  value: T;
  /** Epoch milliseconds; undefined when the issuer gave no lifetime. */
  expiresAt?: number;
}

/** How a credential is fetched; `signal` aborts when the fetch has taken too long. */
export type FetchCredential<T> = (signal: AbortSignal) => Promise<Expiring<T>>;

export interface RefreshingOptions {
  /** What the logs call this credential: `backendAuth azure`. */
  name: string;
  logger: Logger;
  timeoutMs?: number;
  /** How long a credential with no stated lifetime is reused. */
  defaultLifetimeMs?: number;
  now?: () => number;
}

const FIVE_MINUTES = 5 * 60_000;
/**
 * The longest a fetched credential is reused, whatever lifetime its issuer states: a token
 * service that answers `expires_in: 1e308` (or NaN, or a date in year 275760) must not pin one
 * credential in the cache for good. Cloud access tokens live one hour; 24 h leaves room.
 */
export const MAX_CREDENTIAL_LIFETIME_MS = 24 * 60 * 60_000;
const TIMEOUT_MS = 5_000;
const RENEWAL_RETRY_MS = 1_000;

/**
 * Why a credential could not be had. `unavailable`: the token service is down, slow or
 * answered 5xx (the client may retry: 503). `refused`: it answered, but refused us or sent
 * something unusable (a configuration problem at the gateway: 502).
 */
export class CredentialFetchError extends Error {
  constructor(
    message: string,
    readonly kind: 'unavailable' | 'refused',
  ) {
    super(message);
    this.name = 'CredentialFetchError';
  }
}

/**
 * A credential failure as a log line's reason: a {@link CredentialFetchError}'s message (built
 * by portcullis, every upstream piece in it through logText), or, for any other error, only
 * its class: a library's message or `name` may quote the token service's answer.
 */
export function failureReason(error: unknown): string {
  return error instanceof CredentialFetchError ? error.message : `unexpected ${errorClass(error)}`;
}

const NETWORK_FAILURES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

/**
 * Whether a token service's failure is worth retrying (`unavailable`, 503): the network failed
 * (`code`), or the service answered 5xx or 429 (`status`). Anything else is `refused` (502).
 */
export function isTransientFailure(code: unknown, status: number): boolean {
  return (typeof code === 'string' && NETWORK_FAILURES.has(code)) || status >= 500 || status === 429;
}

/**
 * Caches one credential and renews it ahead of expiry: from `min(5 min, half its lifetime)`
 * before it expires, the next caller starts a renewal in the background and is served the
 * current credential meanwhile; only a caller with no valid credential waits. One fetch runs at
 * a time whoever asks, so the token service never sees a burst. A failed fetch is never cached:
 * the next request tries again. Each fetch is bounded by a timeout even when the client library
 * underneath ignores the abort signal.
 */
export class RefreshingCredential<T> {
  private current: { value: T; refreshAt: number; expiresAt: number } | undefined;
  private inFlight: Promise<T> | undefined;
  private quietUntil = 0;
  private readonly timeoutMs: number;
  private readonly defaultLifetimeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly fetchCredential: FetchCredential<T>,
    private readonly options: RefreshingOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
    this.defaultLifetimeMs = options.defaultLifetimeMs ?? 15 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The current credential, fetched (or renewed) as needed; rejects when none can be had. */
  get(): Promise<T> {
    const current = this.current;
    const now = this.now();
    if (current !== undefined && now < current.expiresAt) {
      if (now >= current.refreshAt && now >= this.quietUntil && this.inFlight === undefined) {
        this.renew().catch((error: unknown) => {
          // While the current credential lasts, a failing token service is asked again after a
          // pause, not on every request (and not logged on every request either).
          this.quietUntil = this.now() + RENEWAL_RETRY_MS;
          this.options.logger.warn(
            `${this.options.name}: renewal failed (${failureReason(error)}); serving the current credential`,
          );
        });
      }
      return Promise.resolve(current.value);
    }
    return this.inFlight ?? this.renew();
  }

  private renew(): Promise<T> {
    const fetching = this.fetchBounded().then(
      (fetched) => {
        const fetchedAt = this.now();
        const stated = fetched.expiresAt ?? fetchedAt + this.defaultLifetimeMs;
        const expiresAt = Number.isFinite(stated)
          ? Math.min(stated, fetchedAt + MAX_CREDENTIAL_LIFETIME_MS)
          : fetchedAt + MAX_CREDENTIAL_LIFETIME_MS;
        const lifetime = Math.max(0, expiresAt - fetchedAt);
        this.current = {
          value: fetched.value,
          refreshAt: expiresAt - Math.min(FIVE_MINUTES, lifetime / 2),
          expiresAt,
        };
        this.inFlight = undefined;
        return fetched.value;
      },
      (error: unknown) => {
        this.inFlight = undefined;
        throw error;
      },
    );
    this.inFlight = fetching;
    return fetching;
  }

  private fetchBounded(): Promise<Expiring<T>> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new CredentialFetchError(`no answer within ${this.timeoutMs} ms`, 'unavailable'));
      }, this.timeoutMs);
      timer.unref();
    });
    const fetching = Promise.resolve().then(() => this.fetchCredential(controller.signal));
    return Promise.race([fetching, timeout]).finally(() => clearTimeout(timer));
  }
}
