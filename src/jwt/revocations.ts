import type { Problem } from '../authenticator.js';
import {
  bounded,
  lockedTo,
  narrowed,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  text,
  z,
} from '../config/schema.js';
import type { Logger } from '../logger.js';
import { memoryStore } from '../store/memory.js';
import type { Collection, Store, StoredValue } from '../store/store.js';
import { STORE } from '../store/store-option.js';

/** The collection jwtAuth keeps its revocations in, on every store. */
export const REVOCATIONS_COLLECTION = 'revocations';

const LIFETIME = 'must be a whole number of seconds from 1 to 31536000';
/** NumericDate bound: a number past it is milliseconds given for seconds. */
const LAST_SECOND = 1e11;

/** The schema of {@link RevocationOptions}. */
export const REVOCATION_OPTIONS = optionsObject(
  'revocations',
  {
    store: STORE.optional(),
    maxTokenLifetimeSeconds: bounded(1, 31_536_000, LIFETIME, { integer: true }).optional(),
  },
  {
    isRevoked: { say: "revocations are kept by portcullis: call the middleware's revoke({ jti | sub })" },
    ttl: 'maxTokenLifetimeSeconds',
    ttlSeconds: 'maxTokenLifetimeSeconds',
    maxAge: 'maxTokenLifetimeSeconds',
  },
);

/** The `revocations` option of `jwtAuth()`. */
export interface RevocationOptions {
  /**
   * Where revocations live, shared by every middleware (and every replica) built on the same
   * store: `memoryStore()` or `redisStore({ client })`. Default: a memory store of this
   * middleware's own.
   */
  store?: Store;
  /**
   * How long a revocation is kept when `revoke()` is given no `until`: the longest lifetime
   * (`exp` - `iat`) of the tokens you accept. Default 86400 (one day).
   */
  maxTokenLifetimeSeconds?: number;
}

lockedTo<RevocationOptions, z.output<typeof REVOCATION_OPTIONS>>(true);

/** When a revocation may be forgotten: a Date, or a NumericDate (seconds since the epoch, as `exp`). */
export type RevocationExpiry = Date | number;

/**
 * What `revoke()` takes: one token by its `jti`, or every token of a subject issued (`iat`) up
 * to now. `until`: when the entry may be forgotten; default now + `maxTokenLifetimeSeconds`.
 */
export type Revocation =
  | { jti: string; until?: RevocationExpiry }
  | { sub: string; until?: RevocationExpiry };

const UNTIL = 'must be a Date or a NumericDate (seconds since the epoch, like `exp`) in the future';
const REVOCATION = narrowed<Revocation>()(
  refined(
    optionsObject(
      'revoke',
      {
        jti: text('must be a non-empty string').max(1024).optional(),
        sub: text('must be a non-empty string').max(1024).optional(),
        until: z
          .union([z.date(), z.number()], { error: UNTIL })
          .refine((until) => whenOf(until) > Date.now() && whenOf(until) < LAST_SECOND * 1000, {
            error: UNTIL,
          })
          .optional(),
      },
      { id: 'jti', jwtId: 'jti', subject: 'sub', exp: 'until', expiresAt: 'until' },
      'must be { jti, until? } or { sub, until? }',
    ),
    (revocation, ctx) => {
      const given = [revocation.jti, revocation.sub].filter((value) => value !== undefined).length;
      if (given !== 1) refuse(ctx, 'must name exactly one of `jti` and `sub`');
    },
  ),
);

/** Epoch ms of an `until`. */
function whenOf(until: RevocationExpiry): number {
  return until instanceof Date ? until.getTime() : until * 1000;
}

/** The middleware's revocation method. */
export interface TokenRevoker {
  /**
   * Refuses, on every replica sharing the store, the token with this `jti`, or every token of
   * this `sub` issued (`iat`) up to now; tokens already verified and cached included. Throws a
   * ConfigError at once for a bad argument; the promise rejects when the store did not confirm
   * the write (refused, or timed out: then it may still land); retry it, it is idempotent.
   */
  revoke(revocation: Revocation): Promise<void>;
}

/**
 * The revoked tokens of one jwtAuth: entries `jti:<jti>` → `{ until }` and `sub:<sub>` →
 * `{ before, until }` (seconds) in the store's "revocations" collection. Checked from the local
 * copy on every request (two Map reads), failing closed while the copy is not fresh.
 */
export class Revocations implements TokenRevoker {
  private readonly collection: Collection;
  private readonly ownStore: Store | undefined;
  private readonly lifetimeSeconds: number;
  private readonly kind: string;

  constructor(options: RevocationOptions | undefined, logger: Logger) {
    const parsed = parseOptions(REVOCATION_OPTIONS, options ?? {}, 'revocations');
    this.ownStore = parsed.store === undefined ? memoryStore({ logger }) : undefined;
    const store = parsed.store ?? this.ownStore!;
    this.kind = store.kind;
    this.collection = store.collection(REVOCATIONS_COLLECTION);
    this.lifetimeSeconds = parsed.maxTokenLifetimeSeconds ?? 86_400;
  }

  /**
   * Why a verified token is refused now, or undefined when it is not revoked. Synchronous.
   * `skewSeconds`: the clock skew its provider accepts (clockSkewSeconds).
   */
  check(claims: Readonly<Record<string, unknown>>, skewSeconds = 0): Problem | undefined {
    const status = this.collection.status();
    if (!status.fresh) {
      // A revocation made elsewhere may be missing here: no token passes (fail closed).
      return {
        code: 'unavailable',
        reason: `revocation store (${this.kind}) not in sync`,
        retryAfterSeconds: status.retryAfterSeconds,
      };
    }
    // Nothing revoked (the usual case): no key to build and look up, on every request (check()
    // 1.3k -> 0.2k instructions, express-jwt-new, callgrind). After the freshness check: a
    // copy out of sync fails closed whatever it holds.
    if (this.collection.size?.() === 0) return undefined;
    const now = Date.now() / 1000;
    const { jti, sub, iat } = claims;
    if (typeof jti === 'string') {
      const entry = this.collection.get(`jti:${jti}`);
      if (entry !== undefined && inForce(entry, now)) return revoked('jti revoked');
    }
    if (typeof sub === 'string') {
      const entry = this.collection.get(`sub:${sub}`);
      if (entry !== undefined && inForce(entry, now) && !issuedAfter(iat, before(entry), now, skewSeconds))
        return revoked('subject revoked');
    }
    return undefined;
  }

  revoke(revocation: Revocation): Promise<void> {
    const checked = parseOptions(REVOCATION, revocation, 'revocation');
    const now = Date.now();
    const until = Math.ceil(
      (checked.until === undefined ? now + this.lifetimeSeconds * 1000 : whenOf(checked.until)) / 1000,
    );
    const { jti, sub } = checked as { jti?: string; sub?: string };
    const field = jti !== undefined ? `jti:${jti}` : `sub:${sub}`;
    // Never shortens an earlier revocation of the same token or subject.
    const earlier = this.collection.get(field);
    const previous = earlier === undefined ? 0 : untilOf(earlier);
    const kept = Number.isFinite(previous) ? Math.max(until, previous) : until;
    const value: StoredValue =
      jti !== undefined ? { until: kept } : { before: Math.floor(now / 1000), until: kept };
    return this.collection.put(field, value).then(() => this.forgetExpired(now / 1000));
  }

  async close(): Promise<void> {
    await this.ownStore?.close();
  }

  /** Deletes entries past their `until`, a few per revoke(): the collection stays bounded. */
  private async forgetExpired(now: number): Promise<void> {
    const expired: Array<[string, StoredValue]> = [];
    for (const [field, value] of this.collection.entries()) {
      if (!inForce(value, now)) expired.push([field, value]);
      if (expired.length >= 100) break;
    }
    // Only while the entry is still the expired one this replica saw: another replica may have
    // renewed it (a new revocation of the same jti or sub) since, and that must never be lost.
    // A failed delete only leaves an entry that no longer refuses anything.
    await Promise.allSettled(expired.map(([field, value]) => this.collection.deleteIf(field, value)));
  }
}

const revoked = (reason: string): Problem => ({
  code: 'invalid_token',
  reason,
  description: 'The token has been revoked',
});

/** An entry's `until` (seconds); an entry that does not read as one never expires (fail closed). */
function untilOf(entry: StoredValue): number {
  const until =
    typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? entry.until : undefined;
  return typeof until === 'number' ? until : Number.POSITIVE_INFINITY;
}

function inForce(entry: StoredValue, now: number): boolean {
  return untilOf(entry) > now;
}

/**
 * Whether a token's `iat` shows it was issued after a subject's revocation at `revokedAt`. The
 * verifier accepts an issuer clock up to `skew` seconds ahead, so an iat within `skew` of the
 * revocation may be a token issued before it: refused, as is an iat further ahead than any
 * accepted clock (it proves nothing), and a missing one. A new token of the subject passes once
 * the issuer's clock is `skew` past the revocation.
 */
function issuedAfter(iat: unknown, revokedAt: number, now: number, skew: number): boolean {
  return typeof iat === 'number' && iat > revokedAt + skew && iat <= now + skew;
}

/** A subject entry's revocation time (seconds); unreadable: every token of the subject. */
function before(entry: StoredValue): number {
  const at = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? entry.before : undefined;
  return typeof at === 'number' ? at : Number.POSITIVE_INFINITY;
}
