import { displayUrl } from '../http/display-url.js';
import { type FetchJsonOptions, fetchJson } from '../http/fetch-json.js';
import { unfetchableUrl } from '../http/loopback.js';
import type { Logger } from '../logger.js';
import { KeySet } from './key-set.js';
import type { KeySource } from './key-source.js';

/** Tuning for a remote JWKS; the defaults suit a public identity provider. */
export interface RemoteKeyTiming {
  /** Abort a fetch after this long. Default 5000. */
  timeoutMs: number;
  /** An unknown kid triggers at most one refetch per this period. Default 30 000. */
  cooldownMs: number;
  /** Cache lifetime when the response has no usable `Cache-Control: max-age`. Default 10 min. */
  defaultMaxAgeMs: number;
  /** Bounds applied to `max-age`. Defaults 1 min and 24 h. */
  minMaxAgeMs: number;
  maxMaxAgeMs: number;
  /** First retry delay after a failed fetch; doubles up to `cooldownMs`. Default 1000. */
  retryMs: number;
}

export const DEFAULT_REMOTE_TIMING: RemoteKeyTiming = {
  timeoutMs: 5000,
  cooldownMs: 30_000,
  defaultMaxAgeMs: 10 * 60_000,
  minMaxAgeMs: 60_000,
  maxMaxAgeMs: 24 * 60 * 60_000,
  retryMs: 1000,
};

function maxAgeMs(cacheControl: string | null, timing: RemoteKeyTiming): number {
  const directives = (cacheControl ?? '').toLowerCase();
  if (/\bno-(store|cache)\b/.test(directives)) return timing.minMaxAgeMs;
  const match = /(?:^|[,\s])max-age\s*=\s*"?(\d+)/.exec(directives);
  if (!match) return timing.defaultMaxAgeMs;
  const ms = Number(match[1]) * 1000;
  return Math.min(timing.maxMaxAgeMs, Math.max(timing.minMaxAgeMs, ms));
}

/**
 * A JWKS at a URL (or at the URL OIDC discovery names). All fetches are single-flight: a
 * burst of requests, or of unknown kids, shares one. The last good keys stay in force while
 * the source is down. Timers are unref'd so they never keep the process alive.
 */
export class RemoteKeySource implements KeySource {
  private keys: KeySet | undefined;
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private nextAttemptAt = 0;
  private lastKidRefreshAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly resolveUrl: () => Promise<string>,
    private readonly label: string,
    private readonly timing: RemoteKeyTiming,
    private readonly fetchOptions: FetchJsonOptions,
    private readonly logger: Logger,
  ) {
    // Start at once so the first request usually finds keys; a failure here never throws.
    void this.load();
  }

  current(): KeySet | undefined {
    return this.keys;
  }

  async ready(): Promise<void> {
    if (this.keys !== undefined) return;
    if (this.inflight === undefined && Date.now() >= this.nextAttemptAt) void this.load();
    await this.inflight;
  }

  async refreshForUnknownKid(): Promise<void> {
    if (this.inflight !== undefined) return this.inflight;
    const now = Date.now();
    if (now - this.lastKidRefreshAt < this.timing.cooldownMs) return;
    this.lastKidRefreshAt = now;
    return this.load();
  }

  retryAfterSeconds(): number {
    return Math.max(1, (this.nextAttemptAt - Date.now()) / 1000);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private load(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    let nextRefreshMs: number;
    try {
      const url = await this.resolveUrl();
      const { json, cacheControl } = await fetchJson(url, this.fetchOptions);
      let keys: KeySet;
      try {
        keys = KeySet.parse(json);
      } catch (error) {
        throw new Error(`GET ${displayUrl(url)}: response ${(error as Error).message}`);
      }
      if (keys.skipped > 0)
        this.logger.warn(`${this.label}: skipped ${keys.skipped} unusable key(s) from ${displayUrl(url)}`);
      this.keys = keys;
      this.failures = 0;
      this.nextAttemptAt = 0;
      nextRefreshMs = maxAgeMs(cacheControl, this.timing);
    } catch (error) {
      this.failures++;
      nextRefreshMs = Math.min(this.timing.cooldownMs, this.timing.retryMs * 2 ** (this.failures - 1));
      this.nextAttemptAt = Date.now() + nextRefreshMs;
      const kept = this.keys === undefined ? 'no keys yet' : 'keeping the last good keys';
      this.logger.warn(
        `${this.label}: ${(error as Error).message}; ${kept}, retrying in ${Math.round(nextRefreshMs / 1000)} s`,
      );
    }
    this.schedule(nextRefreshMs);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.load(), delayMs);
    this.timer.unref();
  }
}

/**
 * The JWKS URL an OpenID provider publishes, checked against the configured issuer. The
 * `jwks_uri` must pass the same URL rule as every key fetch, and an https issuer's must be
 * https: the document cannot downgrade the keys to plain http, even to a loopback host.
 */
export async function discoverJwksUrl(issuer: string, options: FetchJsonOptions): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const shown = `GET ${displayUrl(url)}`;
  const { json } = await fetchJson(url, options);
  const document = json as { issuer?: unknown; jwks_uri?: unknown } | null;
  // OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer we asked.
  // Neither issuer is echoed: the document's is the server's text, and a URL shown through
  // displayUrl gains a "/" that would hide the very mismatch being reported.
  if (document?.issuer !== issuer) {
    throw new Error(`${shown}: "issuer" does not match the configured issuer character for character`);
  }
  if (typeof document.jwks_uri !== 'string') throw new Error(`${shown}: "jwks_uri" is missing`);
  let jwksUri: URL;
  try {
    jwksUri = new URL(document.jwks_uri);
  } catch {
    throw new Error(`${shown}: "jwks_uri" is not a URL`);
  }
  const problem = unfetchableUrl(jwksUri);
  if (problem !== undefined) throw new Error(`${shown}: "jwks_uri" ${displayUrl(jwksUri)} ${problem}`);
  if (new URL(url).protocol === 'https:' && jwksUri.protocol !== 'https:') {
    throw new Error(`${shown}: "jwks_uri" ${displayUrl(jwksUri)} must use https like the issuer`);
  }
  return jwksUri.href;
}
