import {
  type Authenticator,
  type SchemeContext,
  type SchemeDeclaration,
  schemeContext,
  type Verdict,
} from '../authenticator.js';
import { INBOUND_SHAPE, REALM } from '../config/inbound-shape.js';
import { FILE_HINTS } from '../config/known-keys.js';
import { type ReloadingFile, reloadingFile } from '../config/reloading-file.js';
import { lockedTo, optionsObject, parseOptions, text, z } from '../config/schema.js';
import { BEARER_LOCATION, CREDENTIAL_LOCATION, type CredentialLocation } from '../credentials/location.js';
import { ConfigError } from '../errors.js';
import { type AuthPart, grantAllScopes } from '../identity.js';
import type { InboundOptions } from '../inbound.js';
import { LOGGER, type Logger } from '../logger.js';
import { KeyIndex } from './key-index.js';
import {
  API_KEY_RECORD,
  type ApiKeyInfo,
  type ApiKeyRecord,
  digestOf,
  infoOf,
  isUsable,
  type StoredApiKey,
  storeRecord,
} from './records.js';

/** The schema of {@link ApiKeyAuthOptions}. */
export const API_KEY_AUTH_OPTIONS = optionsObject(
  'apiKeyAuth',
  {
    keys: z.union(
      [
        z.array(API_KEY_RECORD).readonly(),
        optionsObject('keys { file }', { file: text('must be a path') }, FILE_HINTS),
      ],
      { error: 'must be an array of key records or { file }' },
    ),
    location: CREDENTIAL_LOCATION.optional(),
    realm: REALM.optional(),
    logger: LOGGER.optional(),
    ...INBOUND_SHAPE,
  },
  {
    apiKeys: 'keys',
    key: 'keys',
    records: 'keys',
    file: 'keys: { file }',
    header: 'location: { header: { name } }',
    headerName: 'location: { header: { name } }',
    query: 'location: { queryParameter: { name } }',
    queryParameter: 'location: { queryParameter: { name } }',
    cookie: 'location: { cookie: { name } }',
  },
);

/** Options of `apiKeyAuth()`. */
export interface ApiKeyAuthOptions extends InboundOptions {
  /** Key records, or `{ file }`: a JSON array of records, re-read when it changes. */
  keys: readonly ApiKeyRecord[] | { file: string };
  /** Default `Authorization: Bearer`; commonly `{ header: { name: 'x-api-key' } }`. */
  location?: CredentialLocation;
  /** The realm in `WWW-Authenticate`. Default "api". */
  realm?: string;
  logger?: Logger;
}

lockedTo<ApiKeyAuthOptions, z.output<typeof API_KEY_AUTH_OPTIONS>>(true);

/** Keys managed at run time; every change applies from the next request on. */
export interface ApiKeyManager {
  /** Adds a key (same checks as at start-up); throws on a duplicate name or key. */
  add(record: ApiKeyRecord): void;
  /** Revokes a key by name; returns false when there is no such key. */
  revoke(name: string): boolean;
  /** Every key, without secrets. */
  list(): ApiKeyInfo[];
}

/**
 * The keys in force: those from the options (or file) plus run-time additions, minus run-time
 * revocations. Run-time changes survive a reload of the file.
 */
class KeyStore implements ApiKeyManager {
  private index: KeyIndex;
  private readonly added: StoredApiKey[] = [];
  private readonly revoked = new Set<string>();

  constructor(private readonly configured: () => readonly StoredApiKey[]) {
    this.index = this.build();
  }

  lookup(digest: string): StoredApiKey | undefined {
    return this.index.byDigest.get(digest);
  }

  rebuild(): void {
    this.index = this.build();
  }

  /** Throws when `configured` repeats a name or key, in itself or against a run-time addition. */
  checkAgainstAdded(configured: readonly StoredApiKey[]): void {
    new KeyIndex([...configured, ...this.added]);
  }

  add(record: ApiKeyRecord): void {
    const stored = storedOrThrow(record, 'record');
    const next = [...this.added, stored];
    try {
      this.index = this.build(next);
    } catch (error) {
      throw new ConfigError('record', (error as Error).message);
    }
    this.added.push(stored);
  }

  revoke(name: string): boolean {
    if (!this.index.byName.has(name)) return false;
    this.revoked.add(name);
    this.rebuild();
    return true;
  }

  list(): ApiKeyInfo[] {
    return [...this.index.byName.values()].map(infoOf);
  }

  private build(added: readonly StoredApiKey[] = this.added): KeyIndex {
    const all = [...this.configured(), ...added].map((key) =>
      this.revoked.has(key.name) ? { ...key, revoked: true } : key,
    );
    return new KeyIndex(all);
  }
}

function storedOrThrow(record: ApiKeyRecord, field: string): StoredApiKey {
  try {
    return storeRecord(record, field);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(field, (error as Error).message);
  }
}

/** How the apiKey scheme asks: Bearer at `Authorization: Bearer`, `ApiKey` naming its location elsewhere. */
export const API_KEY_SCHEME: SchemeDeclaration = {
  method: 'apiKey',
  challenge: { standard: 'Bearer', named: 'ApiKey' },
  defaultRealm: 'api',
  defaultLocation: BEARER_LOCATION,
};

/**
 * The apiKey scheme as an {@link Authenticator}, with its run-time key manager. `context` is
 * what the pipeline checked of the shared options.
 */
export function apiKeyAuthenticator(
  given: ApiKeyAuthOptions,
  context: SchemeContext = schemeContext(given, API_KEY_SCHEME),
): Authenticator & { keys: ApiKeyManager } {
  // Every key again, `logger`, `realm` and `location` included (already checked: they pass).
  const options = parseOptions(API_KEY_AUTH_OPTIONS, given);
  const logger = context.logger;

  let file: ReloadingFile<readonly StoredApiKey[]> | undefined;
  let configured: readonly StoredApiKey[] = [];
  // Made first (empty, rebuilt below) so a file reload can be checked against run-time additions.
  const store = new KeyStore(() => file?.value ?? configured);
  const source = options.keys;
  if ('file' in source) {
    // Checked whole on every reload: a file with duplicates is refused and the last good set stays.
    // A version that clashes with a key added at run time is refused the same way: otherwise
    // rebuild() would throw from the watcher's timer (an unhandled rejection) with the file's
    // value already replaced, leaving the index stale and add()/revoke() throwing from then on.
    const parse = (text: string) => {
      const stored = KeyIndex.fromJson(text);
      store.checkAgainstAdded(stored);
      return stored;
    };
    file = reloadingFile(source.file, 'keys.file', parse, logger, () => store.rebuild());
  } else {
    configured = source.map((record, index) => storedOrThrow(record, `keys[${index}]`));
    try {
      new KeyIndex(configured);
    } catch (error) {
      throw new ConfigError('keys', (error as Error).message);
    }
  }
  store.rebuild();

  const authenticator = {
    keys: store as ApiKeyManager,
    authenticate(key: string): Verdict {
      const digest = digestOf(key);
      // Looked up by SHA-256 digest, never by the key: whatever the map compares, it compares
      // digests, and a client cannot steer the digest of its guess toward a stored one byte by
      // byte, so the lookup leaks nothing about the keys through timing.
      const found = store.lookup(digest);
      if (found === undefined || !isUsable(found, Date.now())) {
        // Unknown, expired and revoked get one answer: no oracle for which keys exist. The
        // log tells them apart (never the key nor its name: the key was not proven).
        const reason = found === undefined ? 'unknown key' : found.revoked ? 'key revoked' : 'key expired';
        return {
          ok: false,
          problem: { code: 'invalid_credentials', reason, description: 'The API key is not valid' },
        };
      }
      const identity: AuthPart = {
        subject: found.name,
        scopes: [...found.scopes],
        method: 'apiKey',
        apiKey: { name: found.name, scopes: [...found.scopes], metadata: { ...found.metadata } },
      };
      // The one place "every scope" is granted: by the operator's record, never by a value a
      // client or an issuer sends (see grantAllScopes).
      return { ok: true, identity: found.scopes.includes('*') ? grantAllScopes(identity) : identity };
    },
    async close() {
      file?.close();
    },
  };
  return authenticator;
}
