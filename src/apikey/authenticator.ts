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
import { flag, lockedTo, optionsObject, parseOptions, refined, refuse, text, z } from '../config/schema.js';
import { BEARER_LOCATION, CREDENTIAL_LOCATION, type CredentialLocation } from '../credentials/location.js';
import { ConfigError } from '../errors.js';
import type { AuthPart } from '../identity.js';
import type { InboundOptions } from '../inbound.js';
import { LOGGER, type Logger } from '../logger.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { STORE } from '../store/store-option.js';
import { KeyIndex } from './key-index.js';
import { API_KEY_RECORD, type ApiKeyRecord, isUsable, lookupKeyOf, type StoredApiKey } from './records.js';
import { API_KEYS_COLLECTION, type ApiKeyManager, SharedKeys, storedOrThrow } from './shared-keys.js';

export type { ApiKeyManager } from './shared-keys.js';

/** The schema of {@link ApiKeyAuthOptions}. */
export const API_KEY_AUTH_OPTIONS = refined(
  optionsObject(
    'apiKeyAuth',
    {
      keys: z
        .union(
          [
            z.array(API_KEY_RECORD).readonly(),
            optionsObject('keys { file }', { file: text('must be a path') }, FILE_HINTS),
          ],
          { error: 'must be an array of key records or { file }' },
        )
        .optional(),
      location: CREDENTIAL_LOCATION.optional(),
      realm: REALM.optional(),
      logger: LOGGER.optional(),
      store: STORE.optional(),
      allowUnsyncedStart: flag().optional(),
      ...INBOUND_SHAPE,
    },
    {
      apiKeys: 'keys',
      redis: { say: 'give `store: redisStore({ client })`' },
      client: { say: 'give `store: redisStore({ client })`' },
      key: 'keys',
      records: 'keys',
      file: 'keys: { file }',
      header: 'location: { header: { name } }',
      headerName: 'location: { header: { name } }',
      query: 'location: { queryParameter: { name } }',
      queryParameter: 'location: { queryParameter: { name } }',
      cookie: 'location: { cookie: { name } }',
    },
  ),
  (options, ctx) => {
    // With no store there is no other way to have a key.
    if (options.keys === undefined && options.store === undefined)
      refuse(ctx, 'is required: key records, { file }, or a `store` holding them', 'keys');
  },
);

/** Options of `apiKeyAuth()`. */
export interface ApiKeyAuthOptions extends InboundOptions {
  /**
   * Seed keys: records, or `{ file }` (a JSON array of records, re-read when it changes). Local
   * to the process; a record in the store with the same key wins. Required without `store`.
   */
  keys?: readonly ApiKeyRecord[] | { file: string };
  /** Default `Authorization: Bearer`; commonly `{ header: { name: 'x-api-key' } }`. */
  location?: CredentialLocation;
  /** The realm in `WWW-Authenticate`. Default "api". */
  realm?: string;
  logger?: Logger;
  /**
   * Where run-time keys and revocations live, shared by every middleware (and every replica)
   * built on the same store: `memoryStore()` (one process) or `redisStore({ client })`. Records
   * are kept by the key's SHA-256 digest, never the key. Default: a memory store of this
   * middleware's own (today's behaviour).
   */
  store?: Store;
  /**
   * Before the store's first sync (Redis not reachable at start-up), serve the seeds (`keys`)
   * alone instead of answering 503. A seeded key revoked through the store is then accepted
   * until the first sync. Default false: fail closed.
   */
  allowUnsyncedStart?: boolean;
}

lockedTo<ApiKeyAuthOptions, z.output<typeof API_KEY_AUTH_OPTIONS>>(true);

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
  // The default store is this middleware's own: closed with it.
  const ownStore = options.store === undefined ? memoryStore({ logger }) : undefined;
  const store = options.store ?? ownStore!;
  const collection = store.collection(API_KEYS_COLLECTION);
  const keys = new SharedKeys(collection, logger);
  const allowUnsyncedStart = options.allowUnsyncedStart ?? false;
  const source = options.keys ?? [];
  if ('file' in source) {
    // Checked whole on every reload: a file with duplicates, or one that clashes with a record
    // in the store, is refused and the last good set stays.
    const parse = (text: string) => {
      const seeds = KeyIndex.fromJson(text);
      keys.checkSeeds(seeds);
      return seeds;
    };
    file = reloadingFile(source.file, 'keys.file', parse, logger, () => keys.setSeeds(file!.value));
    keys.setSeeds(file.value);
  } else {
    const seeds = source.map((record, index) => storedOrThrow(record, `keys[${index}]`));
    try {
      new KeyIndex(seeds);
    } catch (error) {
      throw new ConfigError('keys', (error as Error).message);
    }
    keys.setSeeds(seeds);
  }

  // Set by close(): the copy stops following the store then, so it is never served again.
  let closed = false;
  const authenticator = {
    keys: keys as ApiKeyManager,
    /** Synchronous: one Map lookup and the store's status, never a network call. */
    authenticate(key: string): Verdict {
      if (closed) {
        // A server draining its connections still calls a closed middleware: its copy no
        // longer follows the store and may miss a revocation made since (fail closed).
        return {
          ok: false,
          problem: { code: 'unavailable', reason: 'apiKeyAuth closed', retryAfterSeconds: 1 },
        };
      }
      // Looked up by SHA-256 digest, never by the key: whatever the map compares, it compares
      // digests, and a client cannot steer the digest of its guess toward a stored one byte by
      // byte, so the lookup leaks nothing about the keys through timing.
      const lookupKey = lookupKeyOf(key);
      const status = collection.status();
      let found: StoredApiKey | undefined;
      if (status.fresh) found = keys.lookup(lookupKey);
      else if (allowUnsyncedStart && status.syncedAt === undefined) found = keys.lookupSeed(lookupKey);
      else {
        // The copy may miss a revocation made elsewhere: no key is checked against it (fail
        // closed), whether this one is known or not.
        return {
          ok: false,
          problem: {
            code: 'unavailable',
            reason: `key store (${store.kind}) not in sync`,
            retryAfterSeconds: status.retryAfterSeconds,
          },
        };
      }
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
        // Shared here: the pipeline's mergeAuth copies them into the request's identity.
        scopes: found.scopes,
        method: 'apiKey',
        apiKey: { name: found.name, scopes: [...found.scopes], metadata: { ...found.metadata } },
      };
      // The one place "every scope" is granted: by the operator's record, never by a value a
      // client or an issuer sends (see Proven in identity.ts).
      return found.scopes.includes('*') ? { ok: true, identity, allScopes: true } : { ok: true, identity };
    },
    async close() {
      closed = true;
      file?.close();
      keys.detach();
      // A store given in the options is the caller's: other middlewares may use it.
      await ownStore?.close();
    },
  };
  return authenticator;
}
