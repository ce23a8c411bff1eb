import { hash, randomBytes } from 'node:crypto';
import {
  type Authenticator,
  type SchemeContext,
  type SchemeDeclaration,
  schemeContext,
  type Verdict,
} from '../authenticator.js';
import { BoundedCache, CACHE_OPTIONS, type CacheOptions } from '../cache/bounded-cache.js';
import { INBOUND_SHAPE, REALM } from '../config/inbound-shape.js';
import { FILE_HINTS } from '../config/known-keys.js';
import { type ReloadingFile, reloadingFile } from '../config/reloading-file.js';
import { bounded, flag, lockedTo, optionsObject, parseOptions, text, z } from '../config/schema.js';
import { CREDENTIAL_LOCATION, type CredentialLocation } from '../credentials/location.js';
import { ConfigError } from '../errors.js';
import type { InboundOptions } from '../inbound.js';
import { LOGGER, type Logger } from '../logger.js';
import { logText } from '../logging/log-text.js';
import { basicLimits, decodeBasic } from './credentials.js';
import { PoolBusyError } from './hash-pool.js';
import { verifyPassword } from './hashes.js';
import { type Htpasswd, type HtpasswdRules, parseHtpasswd } from './htpasswd.js';

/**
 * The highest `maxPasswordBytes`: a 4 KB password already costs ~100 ms of SHA-512-crypt on a
 * slow core, the worst a client can buy with one request. Django and passlib chose the same
 * 4096-byte bound against this denial of service (CVE-2013-1443).
 */
const MAX_PASSWORD_CEILING = 4096;

/** The schema of {@link BasicAuthOptions}. */
export const BASIC_AUTH_OPTIONS = optionsObject(
  'basicAuth',
  {
    htpasswd: z.union(
      [z.string(), optionsObject('htpasswd { file }', { file: text('must be a path') }, FILE_HINTS)],
      { error: "must be the file's text or { file }" },
    ),
    realm: REALM.optional(),
    location: CREDENTIAL_LOCATION.optional(),
    allowWeakHashes: flag().optional(),
    maxBcryptCost: bounded(4, 31, 'must be an integer from 4 to 31', { integer: true }).optional(),
    maxShaCryptRounds: bounded(1000, 10_000_000, 'must be an integer from 1000 to 10000000', {
      integer: true,
    }).optional(),
    maxPasswordBytes: bounded(
      1,
      MAX_PASSWORD_CEILING,
      `must be an integer from 1 to ${MAX_PASSWORD_CEILING}`,
      {
        integer: true,
      },
    ).optional(),
    cache: CACHE_OPTIONS.optional(),
    logger: LOGGER.optional(),
    ...INBOUND_SHAPE,
  },
  {
    // express-basic-auth and http-auth spellings.
    users: { say: "give the users as `htpasswd`: the file's text or { file } (bcrypt hashes)" },
    file: 'htpasswd: { file }',
    htpasswdFile: 'htpasswd: { file }',
    passwordFile: 'htpasswd: { file }',
    challenge: { say: 'the Basic challenge is always sent' },
    authorizer: { say: 'not supported: use customAuth() for a password check of your own' },
    authorizeAsync: { say: 'not supported: use customAuth() for a password check of your own' },
    unauthorizedResponse: {
      say: 'not supported: refusals are JSON; `delegateErrors` hands them to your app',
    },
    allowWeak: 'allowWeakHashes',
    bcryptCost: 'maxBcryptCost',
  },
);

/** Options of `basicAuth()`. */
export interface BasicAuthOptions extends InboundOptions {
  /** The htpasswd file's text, or `{ file }` to read it and re-read it when it changes. */
  htpasswd: string | { file: string };
  /** Default "Restricted". */
  realm?: string;
  /**
   * Default `Authorization: Basic`. `{ header: { name: 'proxy-authorization', prefix: 'Basic ' } }`
   * makes it a proxy credential: 407 with `Proxy-Authenticate`.
   */
  location?: CredentialLocation;
  /** Accept DES crypt entries. Default false. */
  allowWeakHashes?: boolean;
  /** bcrypt entries above this cost are refused at load. Default 14. */
  maxBcryptCost?: number;
  /**
   * SHA-crypt entries naming more rounds are refused at load: one check would hold a hashing
   * thread for seconds. Default 1,000,000 (passlib writes 535,000-656,000); 1,000 to 10,000,000.
   */
  maxShaCryptRounds?: number;
  /**
   * Longer passwords (UTF-8 bytes) are refused with 401 before anything is hashed: SHA-crypt's
   * cost grows with the square of the length, apr1's with the length. Default 1024, enough for
   * generated passwords and tokens used as passwords; up to 4096 for longer tokens (a JWT).
   * User names are capped at 255 bytes, as Apache's htpasswd does.
   */
  maxPasswordBytes?: number;
  /**
   * Successful checks are remembered under a keyed hash (HMAC with a per-process key) of user
   * and password, so repeated requests skip the slow hash. Emptied whenever the htpasswd
   * changes; failures are never cached. Default `{ maxEntries: 1000, ttlSeconds: 300 }`;
   * `false` turns it off.
   */
  cache?: CacheOptions;
  logger?: Logger;
}

lockedTo<BasicAuthOptions, z.output<typeof BASIC_AUTH_OPTIONS>>(true);

const BASIC_LOCATION: CredentialLocation = { header: { name: 'authorization', prefix: 'Basic ' } };

function loadUsers(
  options: BasicAuthOptions,
  rules: HtpasswdRules,
  logger: Logger,
): { current(): Htpasswd; close(): void } {
  const warnDuplicates = (parsed: Htpasswd) => {
    if (parsed.duplicates.length > 0) {
      logger.warn(
        `htpasswd lists ${parsed.duplicates.map((u) => `"${logText(u, 64)}"`).join(', ')} more than once; the first entry wins`,
      );
    }
  };
  const source = options.htpasswd;
  if (typeof source === 'string') {
    let parsed: Htpasswd;
    try {
      parsed = parseHtpasswd(source, rules);
    } catch (error) {
      throw new ConfigError('htpasswd', (error as Error).message);
    }
    warnDuplicates(parsed);
    return { current: () => parsed, close() {} };
  }
  const file: ReloadingFile<Htpasswd> = reloadingFile(
    source.file,
    'htpasswd.file',
    (text) => parseHtpasswd(text, rules),
    logger,
    warnDuplicates,
  );
  warnDuplicates(file.value);
  return { current: () => file.value, close: () => file.close() };
}

/** How the basic scheme asks: RFC 7617's challenge at `Authorization` / `Proxy-Authorization`. */
export const BASIC_SCHEME: SchemeDeclaration = {
  method: 'basic',
  challenge: { standard: 'Basic', named: 'Basic' },
  defaultRealm: 'Restricted',
  defaultLocation: BASIC_LOCATION,
};

/**
 * The basic scheme as an {@link Authenticator}: the whole of `basicAuth()` except the pipeline
 * and the adapter. `context` is what the pipeline checked of the shared options.
 */
export function basicAuthenticator(
  given: BasicAuthOptions,
  context: SchemeContext = schemeContext(given, BASIC_SCHEME),
): Authenticator {
  // Every key again, `logger`, `realm` and `location` included (already checked: they pass).
  const options = parseOptions(BASIC_AUTH_OPTIONS, given);
  const logger = context.logger;
  const maxBcryptCost = options.maxBcryptCost ?? 14;
  const maxShaCryptRounds = options.maxShaCryptRounds ?? 1_000_000;
  const maxPasswordBytes = options.maxPasswordBytes ?? 1024;
  const limits = basicLimits(maxPasswordBytes);
  // Checked before the htpasswd file is watched: a refused cache option must not leak the watcher.
  // Remembered successes: the user name each one authenticated, keyed by successKey.
  const successes = BoundedCache.fromOptions<string>(options.cache, 'cache', {
    maxEntries: 1000,
    ttlSeconds: 300,
  });
  const users = loadUsers(
    options,
    { allowWeakHashes: options.allowWeakHashes === true, maxBcryptCost, maxShaCryptRounds },
    logger,
  );
  const cacheSalt = `${randomBytes(32).toString('base64')}\0`;
  let cachedFor: Htpasswd | undefined;

  const authenticator: Authenticator = {
    /** Synchronous for remembered credentials: most requests then cross no promise. */
    authenticate(encoded): Verdict | Promise<Verdict> {
      // Over-long credentials are refused here, before anything is hashed or looked up:
      // unknown and known users are refused alike.
      if (encoded.length > limits.maxEncodedLength) return refuse('not decodable, or over the length caps');
      const current = users.current();
      // The cache belongs to one version of the file: a reload (a password changed, a user
      // removed) empties it before anything is read from it.
      if (cachedFor !== current) {
        successes?.clear();
        cachedFor = current;
      }
      // A remembered credential is known by its exact encoded spelling, which decodeBasic
      // accepted when it was remembered (one canonical spelling per user and password): the
      // decode is not repeated (BENCHMARKS.md: the remembered Basic row).
      const remembered = successes === undefined ? undefined : successKey(cacheSalt, encoded);
      const username = remembered === undefined ? undefined : successes?.get(remembered);
      if (username !== undefined) return accepted(username);
      const credentials = decodeBasic(encoded, limits);
      if (credentials === undefined) return refuse('not decodable, or over the length caps');
      return check(current, credentials, remembered);
    },
    async close() {
      users.close();
    },
  };
  const refuse = (reason: string): Verdict => ({
    ok: false,
    problem: { code: 'invalid_credentials', reason, description: 'The user name or password is not correct' },
  });
  const accepted = (username: string): Verdict => ({
    ok: true,
    identity: { subject: username, scopes: [], method: 'basic', basicAuth: { username } },
  });

  /** The password check proper, for credentials the success cache does not hold. */
  async function check(
    current: ReturnType<typeof users.current>,
    credentials: { username: string; password: string },
    remembered: string | undefined,
  ): Promise<Verdict> {
    const stored = current.users.get(credentials.username);
    try {
      // An unknown user is checked against a real entry of the file's usual kind and cost,
      // and refused whatever the result: unknown and known users take the same time.
      const matches = await verifyPassword(stored ?? current.decoy ?? FALLBACK_DECOY, credentials.password);
      if (stored === undefined) return refuse('unknown user');
      if (!matches) return refuse('password does not match');
    } catch (error) {
      if (error instanceof PoolBusyError)
        return {
          ok: false,
          problem: { code: 'unavailable', reason: 'hash pool busy', retryAfterSeconds: 1 },
        };
      throw error;
    }
    // A reload while the hash ran empties the cache for the new file: remember only for it.
    if (remembered !== undefined && cachedFor === current) successes?.set(remembered, credentials.username);
    return accepted(credentials.username);
  }

  return authenticator;
}

/**
 * The cache key of a credential: SHA-256 of a per-process random salt and the encoded
 * `user:password`, so the cache never holds a password, nor a digest anyone could test guesses
 * against without the salt. One one-shot hash where an HMAC object took three updates.
 */
function successKey(salt: string, encoded: string): string {
  return hash('sha256', salt + encoded, 'base64');
}

// For an empty file: a {SHA} of nothing anybody can send, so the path is still a real check.
const FALLBACK_DECOY = { kind: 'sha1', hash: '{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } as const;
