import { hash } from 'node:crypto';
import { atMostOne, keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { isSecretReference } from '../config/secret.js';
import { ConfigError } from '../errors.js';
import { isScopeToken } from '../identity.js';

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

/** The keys of a record, in the options, in a keys file and in `add()` alike. */
const RECORD_KEYS = keysOf<ApiKeyRecord>()(
  'an API key record',
  { name: true, key: true, keyHash: true, scopes: true, metadata: true, expiresAt: true, revoked: true },
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
);

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

/** Hex SHA-256 of a presented key. */
export function digestOf(key: string): string {
  return hash('sha256', key, 'hex');
}

const KEY_HASH = /^sha256:([0-9a-fA-F]{64})$/;

// backendAuth resolves `$VAR`; a record does not, and would take the text itself as the key.
const LITERAL_ONLY =
  'is written as a reference (such as $NAME), which is not resolved here: it would be the key itself; pass process.env.NAME';

/**
 * Checks one record; `where` names it in messages, e.g. `keys[3]`. Throws a ConfigError naming
 * the field (`keys[3].scope`); a record with an unknown key is refused, not given defaults.
 */
export function storeRecord(record: ApiKeyRecord, where: string): StoredApiKey {
  refuseUnknownKeys(record, RECORD_KEYS, where);
  const { name, key, keyHash, scopes = ['*'], metadata = {}, expiresAt, revoked = false } = record;
  if (typeof name !== 'string' || name === '')
    throw new ConfigError(`${where}.name`, 'must be a non-empty string');
  atMostOne(record, ['key', 'keyHash'], where, 'a record holds the key or its hash, not both');
  if (key === undefined && keyHash === undefined)
    throw new ConfigError(where, 'needs one of key and keyHash');
  let digest: string;
  if (key !== undefined) {
    if (typeof key !== 'string' || key.length < 8)
      throw new ConfigError(`${where}.key`, 'must be a string of at least 8 characters');
    if (isSecretReference(key)) throw new ConfigError(`${where}.key`, LITERAL_ONLY);
    digest = digestOf(key);
  } else {
    const match = typeof keyHash === 'string' ? KEY_HASH.exec(keyHash) : null;
    if (!match) throw new ConfigError(`${where}.keyHash`, 'must be "sha256:" and 64 hex digits');
    digest = match[1]!.toLowerCase();
  }
  if (!Array.isArray(scopes) || !scopes.every(isScopeToken)) {
    throw new ConfigError(
      `${where}.scopes`,
      'must be an array of scopes (printable ASCII, no spaces, quotes or backslashes)',
    );
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new ConfigError(`${where}.metadata`, 'must be an object');
  }
  let expiry: Date | undefined;
  if (expiresAt !== undefined) {
    expiry =
      expiresAt instanceof Date
        ? new Date(expiresAt.getTime())
        : new Date(typeof expiresAt === 'string' ? expiresAt : Number.NaN);
    if (Number.isNaN(expiry.getTime()))
      throw new ConfigError(`${where}.expiresAt`, 'must be a Date or an ISO 8601 string');
  }
  if (typeof revoked !== 'boolean') throw new ConfigError(`${where}.revoked`, 'must be true or false');
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
