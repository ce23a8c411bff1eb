import { hash } from 'node:crypto';
import {
  atMostOneOf,
  flag,
  lockedTo,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  text,
  whole,
  z,
} from '../config/schema.js';
import { isSecretReference } from '../config/secret.js';
import { isScopeToken } from '../identity.js';

const SCOPES = 'must be an array of scopes (printable ASCII, no spaces, quotes or backslashes)';
const KEY_HASH = /^sha256:([0-9a-fA-F]{64})$/;
const EXPIRY = 'must be a Date or an ISO 8601 string';

// backendAuth resolves `$VAR`; a record does not, and would take the text itself as the key.
const LITERAL_ONLY =
  'is written as a reference (such as $NAME), which is not resolved here: it would be the key itself; pass process.env.NAME';

/**
 * The schema of an API key record, in the options, in a keys file and in `add()` alike: exactly
 * one of `key` (plaintext) or `keyHash`. A record with an unknown key is refused, not given
 * defaults.
 */
export const API_KEY_RECORD = refined(
  optionsObject(
    'an API key record',
    {
      name: text('must be a non-empty string'),
      key: z
        .string({ error: 'must be a string of at least 8 characters' })
        .min(8)
        .refine((key) => !isSecretReference(key), { error: LITERAL_ONLY })
        .optional(),
      keyHash: z.string({ error: 'must be "sha256:" and 64 hex digits' }).regex(KEY_HASH).optional(),
      scopes: whole(
        z.array(z.string({ error: SCOPES }).refine(isScopeToken, { error: SCOPES }), { error: SCOPES }),
      )
        .readonly()
        .optional(),
      metadata: z.looseObject({}, { error: 'must be an object' }).optional(),
      expiresAt: z
        .union([z.date(), z.string()], { error: EXPIRY })
        .refine((at) => !Number.isNaN(new Date(at).getTime()), { error: EXPIRY })
        .optional(),
      revoked: flag().optional(),
    },
    {
      id: 'name',
      value: 'key',
      apiKey: 'key',
      secret: 'key',
      token: 'key',
      hash: 'keyHash',
      digest: 'keyHash',
      sha256: 'keyHash',
      permissions: 'scopes',
      roles: 'scopes',
      scp: 'scopes',
      meta: 'metadata',
      data: 'metadata',
      expires: 'expiresAt',
      expiry: 'expiresAt',
      expiration: 'expiresAt',
      expiresOn: 'expiresAt',
      validUntil: 'expiresAt',
      notAfter: 'expiresAt',
      disabled: 'revoked',
      enabled: { say: 'write `revoked: true` to turn a key off' },
      active: { say: 'write `revoked: true` to turn a key off' },
    },
  ),
  (record, ctx) => {
    atMostOneOf<typeof record>(['key', 'keyHash'], 'a record holds the key or its hash, not both')(
      record,
      ctx,
    );
    if (record.key === undefined && record.keyHash === undefined) refuse(ctx, 'needs one of key and keyHash');
  },
);

/** An API key as configured: exactly one of `key` (plaintext) or `keyHash`. */
export interface ApiKeyRecord {
  /** Unique; becomes `auth.subject` and `auth.apiKey.name`. */
  name: string;
  /** The key itself: hashed at start-up and not kept. */
  key?: string;
  /** `sha256:<64 hex digits>`: the SHA-256 of the key, for configurations that never hold it. */
  keyHash?: string;
  /**
   * RFC 6749 scope-tokens. `"*"` grants every scope (agents-gateway's wildcard): only an API-key
   * record can grant it. Default `["*"]`, as in agents-gateway.
   */
  scopes?: readonly string[];
  metadata?: Record<string, unknown>;
  /** A Date or an ISO 8601 string; after it the key is refused. */
  expiresAt?: Date | string;
  revoked?: boolean;
}

lockedTo<ApiKeyRecord, z.output<typeof API_KEY_RECORD>>(true);

/** A key as stored: its digest, never the key. */
export interface StoredApiKey {
  readonly name: string;
  /** Hex SHA-256 of the key. */
  readonly digest: string;
  readonly scopes: readonly string[];
  readonly metadata: Record<string, unknown>;
  readonly expiresAt: Date | undefined;
  readonly revoked: boolean;
}

/** What `list()` shows of a key: everything but the key and its digest. */
export interface ApiKeyInfo {
  name: string;
  scopes: string[];
  metadata: Record<string, unknown>;
  expiresAt?: string;
  revoked: boolean;
}

/** Hex SHA-256 of a key: what records and stores hold. */
export function digestOf(key: string): string {
  return hash('sha256', key, 'hex');
}

/**
 * What the keys in force are looked up by: the SHA-256 of the key as 32 latin1 characters, the
 * digest's bytes. Half the length of hex, it is cheaper to make and to hash on every request
 * (about 0.8k instructions, BENCHMARKS.md); records and stores keep the hex digest.
 */
export function lookupKeyOf(presented: string): string {
  // 'binary' is Node's name for latin1 here (the typed name of the encoding).
  return hash('sha256', presented, 'binary');
}

/** The lookup key of a stored hex digest: the same string {@link lookupKeyOf} makes of the key. */
export function lookupKeyOfDigest(digest: string): string {
  return Buffer.from(digest, 'hex').toString('latin1');
}

/**
 * Checks one record; `where` names it in messages, e.g. `keys[3]`. Throws a ConfigError naming
 * the field (`keys[3].scope`); a record with an unknown key is refused, not given defaults.
 */
export function storeRecord(record: ApiKeyRecord, where: string): StoredApiKey {
  const checked = parseOptions(API_KEY_RECORD, record, where);
  const { name, key, keyHash, scopes = ['*'], metadata = {}, expiresAt, revoked = false } = checked;
  const digest = key !== undefined ? digestOf(key) : KEY_HASH.exec(keyHash!)![1]!.toLowerCase();
  const expiry = expiresAt === undefined ? undefined : new Date(new Date(expiresAt).getTime());
  return { name, digest, scopes: [...scopes], metadata: { ...metadata }, expiresAt: expiry, revoked };
}

/** Whether a stored key may authenticate now. */
export function isUsable(stored: StoredApiKey, now: number): boolean {
  return !stored.revoked && (stored.expiresAt === undefined || stored.expiresAt.getTime() > now);
}

export function infoOf(stored: StoredApiKey): ApiKeyInfo {
  const info: ApiKeyInfo = {
    name: stored.name,
    scopes: [...stored.scopes],
    metadata: { ...stored.metadata },
    revoked: stored.revoked,
  };
  if (stored.expiresAt !== undefined) info.expiresAt = stored.expiresAt.toISOString();
  return info;
}
