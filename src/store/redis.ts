import { loadOptionalPeer } from '../backend/optional-peer.js';
import {
  bounded,
  lockedTo,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  text,
  z,
} from '../config/schema.js';
import { displayUrl } from '../http/display-url.js';
import { LOGGER, type Logger, loggerOption } from '../logger.js';
import {
  checkedName,
  LocalCopy,
  parsedValue,
  type StoredForm,
  storedForm,
  ttlMilliseconds,
} from './local-copy.js';
import type { Collection, Store, StoredValue, SyncStatus } from './store.js';

/**
 * The Redis store (issue 13). Layout per collection, under `<prefix>:<name>`:
 * - `:data`    a hash, field -> the value's JSON: the durable state;
 * - `:log`     a stream of changes (`op` put|delete, `field`, `value`), trimmed to about
 *              {@link LOG_LENGTH} entries: what a replica replays to catch up;
 * - `:changes` a pub/sub channel carrying the id of each new log entry: only a hint.
 * A write is one MULTI (HSET or HDEL, XADD, PUBLISH), so the hash and the log never disagree.
 * setIfAbsent keys are `<prefix>:once:<key>` (SET NX PX).
 *
 * How a replica stays in sync: it keeps the id of the last log entry it applied and reads the log
 * from that id, inclusive, on every hint and every `pollIntervalMs`. The first entry read must be
 * that very id: when it is not (the log was trimmed past it, or Redis came back without it), the
 * replica cannot know what it missed and reads the whole hash again, with the log's last id, in
 * one MULTI. It does the same after any failed check (a lost connection, a timeout) and when the
 * pub/sub connection comes back. So a lost hint costs at most one poll interval, and nothing else.
 */

/** About how many changes the log keeps (MAXLEN ~): a replica further behind resyncs the whole hash. */
const LOG_LENGTH = 10_000;

/**
 * The conditional delete: HGET, compare, HDEL and XADD in one script (Redis runs it with nothing
 * in between), the log entry in the form every write uses. Returns the entry's id, or nil when
 * the stored value is not the expected one (nothing done).
 */
const DELETE_IF = `if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'op', 'delete', 'field', ARGV[1])`;
/** Log entries read per round trip while catching up. */
const BATCH = 500;

/**
 * The part of a node-redis 5 client (`createClient()` from the `redis` package, connected) that
 * redisStore uses. Typed by shape so that portcullis needs no `redis` import at run time.
 */
export interface RedisClientLike {
  xRange(key: string, start: string, end: string, options?: { COUNT?: number }): Promise<unknown>;
  set(
    key: string,
    value: string,
    options?: { condition?: 'NX'; expiration?: { type: 'PX'; value: number } },
  ): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  /** EVAL: the conditional delete runs as one script, so no write can land between its steps. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  multi(): RedisMultiLike;
  /** A second connection of the same settings: the store's own, for pub/sub. */
  duplicate(): RedisSubscriberLike;
  /** node-redis says whether `connect()` was called; a client never connected is refused. */
  readonly isOpen?: boolean;
  /**
   * node-redis says whether the connection is up now. While it is not, the store sends nothing:
   * node-redis would queue a write and carry it out on reconnect, long after it was refused.
   */
  readonly isReady?: boolean;
}

/** The MULTI of a node-redis 5 client, as redisStore uses it. */
export interface RedisMultiLike {
  hSet(key: string, field: string, value: string): RedisMultiLike;
  hDel(key: string, field: string): RedisMultiLike;
  hGetAll(key: string): RedisMultiLike;
  xAdd(
    key: string,
    id: string,
    message: Record<string, string>,
    options?: { TRIM?: { strategy?: 'MAXLEN'; strategyModifier?: '~'; threshold: number } },
  ): RedisMultiLike;
  xRevRange(key: string, end: string, start: string, options?: { COUNT?: number }): RedisMultiLike;
  exec(): Promise<unknown[]>;
}

/** The pub/sub connection redisStore makes with `client.duplicate()`. */
export interface RedisSubscriberLike {
  on(event: 'error' | 'ready', listener: () => void): unknown;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  destroy(): void;
}

/** A client made by redisStore({ url }): also closed by the store, since nobody else holds it. */
interface OwnedClient extends RedisClientLike {
  on(event: 'error', listener: (error: Error) => void): unknown;
  connect(): Promise<unknown>;
  destroy(): void;
}

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * A node-redis 5 client (`createClient()` from `redis`), connected or connecting. The store
   * never closes it. Give this or `url`.
   */
  client?: RedisClientLike | undefined;
  /**
   * A `redis://` or `rediss://` URL: the store loads the optional `redis` package, makes its own
   * client and closes it in `close()`. Give this or `client`.
   */
  url?: string | undefined;
  /** What every key starts with, so several gateways can share one Redis. Default `portcullis`. */
  prefix?: string | undefined;
  /** How often each replica checks the log for changes it missed, in ms. Default 250. */
  pollIntervalMs?: number | undefined;
  /**
   * How long a replica that cannot reach Redis keeps serving from its local copy, in seconds:
   * `status().fresh` turns false this long after the last successful check. Default 10.
   */
  maxStaleSeconds?: number | undefined;
  /** How long any one Redis call may take before it fails, in ms. Default 500. */
  commandTimeoutMs?: number | undefined;
  /** Where a lost or restored connection is reported; console by default. */
  logger?: Logger | undefined;
}

const CLIENT = z.custom<RedisClientLike>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['xRange', 'set', 'publish', 'multi', 'duplicate'].every(
      (method) => typeof (value as Record<string, unknown>)[method] === 'function',
    ),
  { error: 'must be a node-redis 5 client (createClient() from the redis package)' },
);

const REDIS_STORE_OPTIONS = refined(
  optionsObject(
    'redisStore',
    {
      client: CLIENT.optional(),
      url: text('must be a redis:// or rediss:// URL').optional(),
      prefix: text('must be a non-empty string such as "portcullis"')
        .regex(/^[^\s]+$/, 'must be a non-empty string without spaces such as "portcullis"')
        .optional(),
      pollIntervalMs: bounded(10, 60_000, 'must be an integer of milliseconds from 10 to 60000', {
        integer: true,
      }).optional(),
      maxStaleSeconds: bounded(0, 3600, 'must be a number of seconds above 0, at most 3600', {
        exclusiveMinimum: true,
      }).optional(),
      commandTimeoutMs: bounded(10, 60_000, 'must be an integer of milliseconds from 10 to 60000', {
        integer: true,
      }).optional(),
      logger: LOGGER.optional(),
    },
    { redis: 'client', host: 'url', keyPrefix: 'prefix', timeout: 'commandTimeoutMs' },
  ),
  (options, ctx) => {
    if (options.client !== undefined && options.url !== undefined)
      refuse(ctx, 'gives both `client` and `url`: give one');
    if (options.client === undefined && options.url === undefined)
      refuse(ctx, 'needs `client` (a node-redis 5 client) or `url`', 'client');
    if (options.client?.isOpen === false)
      refuse(ctx, 'is not connected: call client.connect() before redisStore({ client })', 'client');
    if (options.url !== undefined) {
      let protocol = '';
      try {
        protocol = new URL(options.url).protocol;
      } catch {
        // refused below
      }
      if (protocol !== 'redis:' && protocol !== 'rediss:')
        refuse(ctx, 'must be a redis:// or rediss:// URL', 'url');
    }
    const pollMs = options.pollIntervalMs ?? 250;
    const staleMs = (options.maxStaleSeconds ?? 10) * 1000;
    // A bound shorter than two checks would turn a single slow poll into a 503.
    if (staleMs < 2 * pollMs)
      refuse(ctx, `must be at least two poll intervals (${(2 * pollMs) / 1000} s)`, 'maxStaleSeconds');
  },
);
lockedTo<RedisStoreOptions, z.output<typeof REDIS_STORE_OPTIONS>>(true);

/** What a failed Redis call says in a log line: a code or our own words, never a reply's text. */
class RedisCallError extends Error {
  constructor(readonly reason: string) {
    super(`redis store: ${reason}`);
    this.name = 'RedisCallError';
  }
}

/**
 * A store shared by every replica through one Redis (or a primary with replicas behind one
 * address): see the consistency contract in store.ts and the layout above. Configuration
 * mistakes throw ConfigError at once; Redis being down is not one (the collections stay
 * unsynced, and not fresh, until it answers).
 */
export function redisStore(options: RedisStoreOptions): Store {
  const read = parseOptions(REDIS_STORE_OPTIONS, options);
  const logger = loggerOption(read.logger, 'logger');
  const prefix = read.prefix ?? 'portcullis';
  const pollIntervalMs = read.pollIntervalMs ?? 250;
  const maxStaleMs = (read.maxStaleSeconds ?? 10) * 1000;
  const timeoutMs = read.commandTimeoutMs ?? 500;
  const where = read.url !== undefined ? displayUrl(read.url) : `prefix ${prefix}`;

  let client: RedisClientLike | undefined = read.client;
  let owned: OwnedClient | undefined;
  let subscriber: RedisSubscriberLike | undefined;
  let subscriberConnected = false;
  let closed = false;
  const collections = new Map<string, RedisCollection>();

  // Connection reports: one line when checks start failing, one when they succeed again.
  let reachable: boolean | undefined;
  const failing = new Set<RedisCollection>();
  const reportFailure = (collection: RedisCollection, reason: string): void => {
    failing.add(collection);
    if (reachable === false || closed) return;
    logger.warn(
      reachable === undefined
        ? `redis store (${where}): not in sync with Redis at start-up (${reason}); its collections stay not fresh until it answers`
        : `redis store (${where}): lost sync with Redis (${reason}); serving the local copy for at most ${maxStaleMs / 1000} s, then refusing with 503`,
    );
    reachable = false;
  };
  const reportSuccess = (collection: RedisCollection): void => {
    failing.delete(collection);
    if (failing.size > 0) return;
    if (reachable === false) (logger.info ?? logger.warn)(`redis store (${where}): in sync with Redis again`);
    reachable = true;
  };

  /** `promise`, or a rejection once `timeoutMs` passed: a slow Redis never holds a caller. */
  const timed = <T>(promise: Promise<T>, what: string, withinMs = timeoutMs): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RedisCallError(`${what}: no answer within ${withinMs} ms`)),
        withinMs,
      );
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(new RedisCallError(`${what}: ${reasonOf(error)}`));
        },
      );
    });

  const connected = (): RedisClientLike => {
    if (closed) throw new RedisCallError('closed');
    if (client === undefined) throw new RedisCallError('the client is not created yet');
    if (client.isReady === false) throw new RedisCallError('not connected');
    return client;
  };

  /** What close() cancels fails on its way out: not worth a warning. */
  const warnUnlessClosed = (message: string): void => {
    if (!closed) logger.warn(message);
  };

  const subscribe = (collection: RedisCollection): void => {
    if (subscriber === undefined || !subscriberConnected) return;
    subscriber
      .subscribe(collection.keys.changes, (message) => collection.hint(message))
      .catch((error: unknown) =>
        warnUnlessClosed(
          `redis store (${where}): subscribing to changes failed (${reasonOf(error)}); polling only`,
        ),
      );
  };

  const startSubscriber = (from: RedisClientLike): void => {
    const sub = from.duplicate();
    subscriber = sub;
    // Without a listener an 'error' event (Redis restarting) would stop the process. The sync
    // loop reports the outage; this connection reconnects by itself.
    sub.on('error', () => undefined);
    sub.on('ready', () => {
      if (closed || !subscriberConnected) return;
      // Reconnected: hints sent meanwhile are lost, so everything is read again. node-redis
      // subscribes again by itself.
      for (const collection of collections.values()) collection.resyncSoon();
    });
    sub.connect().then(
      () => {
        if (closed) return;
        subscriberConnected = true;
        for (const collection of collections.values()) subscribe(collection);
      },
      (error: unknown) =>
        warnUnlessClosed(
          `redis store (${where}): the pub/sub connection failed (${reasonOf(error)}); polling only`,
        ),
    );
  };

  if (client !== undefined) startSubscriber(client);
  else if (read.url !== undefined) {
    const url = read.url;
    loadOptionalPeer<{ createClient(options: { url: string }): OwnedClient }>(
      'redis',
      'redisStore({ url })',
    ).then(
      (redis) => {
        if (closed) return;
        const made = redis.createClient({ url });
        made.on('error', () => undefined);
        owned = made;
        client = made;
        made.connect().catch(() => undefined);
        startSubscriber(made);
        for (const collection of collections.values()) collection.check();
      },
      (error: unknown) => logger.warn(`redis store (${where}): ${(error as Error).message}`),
    );
  }

  const timer = setInterval(() => {
    for (const collection of collections.values()) collection.check();
  }, pollIntervalMs);
  timer.unref?.();

  const context: CollectionContext = {
    connected,
    timed,
    reportFailure,
    reportSuccess,
    warn: (message) => logger.warn(`redis store (${where}): ${message}`),
    maxStaleMs,
    pollIntervalMs,
    commandTimeoutMs: timeoutMs,
  };

  return {
    kind: 'redis',
    collection(name) {
      checkedName(name, 'a collection name');
      let collection = collections.get(name);
      if (collection === undefined) {
        collection = new RedisCollection(name, keysOf(prefix, name), context);
        collections.set(name, collection);
        subscribe(collection);
        if (!closed) collection.check();
      }
      return collection.api;
    },
    async setIfAbsent(key, ttlSeconds) {
      checkedName(key, 'a setIfAbsent key');
      const ttl = ttlMilliseconds(ttlSeconds);
      let to: RedisClientLike;
      try {
        to = connected();
      } catch (error) {
        throw new RedisCallError(`setIfAbsent: ${reasonOf(error)}`);
      }
      const reply = await timed(
        to.set(`${prefix}:once:${key}`, '1', {
          condition: 'NX',
          expiration: { type: 'PX', value: ttl },
        }),
        'setIfAbsent',
      );
      return reply === 'OK';
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      try {
        subscriber?.destroy();
      } catch {
        // never connected: nothing to close
      }
      try {
        owned?.destroy();
      } catch {
        // as above
      }
    },
  };
}

interface CollectionKeys {
  readonly data: string;
  readonly log: string;
  readonly changes: string;
}

function keysOf(prefix: string, name: string): CollectionKeys {
  const base = `${prefix}:${name}`;
  return { data: `${base}:data`, log: `${base}:log`, changes: `${base}:changes` };
}

interface CollectionContext {
  connected(): RedisClientLike;
  timed<T>(promise: Promise<T>, what: string, withinMs?: number): Promise<T>;
  reportFailure(collection: RedisCollection, reason: string): void;
  reportSuccess(collection: RedisCollection): void;
  warn(message: string): void;
  readonly maxStaleMs: number;
  readonly pollIntervalMs: number;
  readonly commandTimeoutMs: number;
}

/** One collection's replica: its local copy and the loop that keeps it in sync. */
class RedisCollection {
  readonly api: Collection;
  readonly #copy: LocalCopy;
  /** The id of the last log entry applied; null when the log was empty at the last resync. */
  #lastId: string | null = null;
  /** Read the whole hash at the next check (start, a failed check, a gap, a reconnect). */
  #needsResync = true;
  #syncedAt: number | undefined;
  /**
   * The same moment on the monotonic clock (performance.now()): staleness is measured on it, so a
   * wall clock stepped back (NTP, a resumed VM) cannot keep a cut-off replica fresh.
   */
  #syncedAtMonotonic: number | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  /**
   * A check's call that timed out but has not settled: no other is sent meanwhile, so a Redis
   * that does not answer never piles up one queued command per poll in the client.
   */
  #unsettled = false;
  #markReady!: () => void;
  readonly #ready = new Promise<void>((resolve) => {
    this.#markReady = resolve;
  });

  constructor(
    readonly name: string,
    readonly keys: CollectionKeys,
    readonly context: CollectionContext,
  ) {
    this.#copy = new LocalCopy(context.warn);
    this.api = {
      get: (field) => this.#copy.get(field),
      entries: () => this.#copy.entries(),
      size: () => this.#copy.size,
      put: async (field, value) => this.#write('put', field, storedForm(value)),
      delete: async (field) => this.#write('delete', field, undefined),
      deleteIf: async (field, expected) => this.#deleteIf(field, storedForm(expected)),
      onChange: (listener) => this.#copy.onChange(listener),
      status: () => this.status(),
      ready: () => this.#ready,
    };
  }

  status(): SyncStatus {
    const fresh =
      this.#syncedAtMonotonic !== undefined &&
      performance.now() - this.#syncedAtMonotonic <= this.context.maxStaleMs;
    return {
      fresh,
      syncedAt: this.#syncedAt,
      retryAfterSeconds: fresh ? 0 : Math.max(1, Math.ceil(this.context.pollIntervalMs / 1000)),
    };
  }

  /** A hint from pub/sub: the id of a new log entry. Already applied: nothing to do. */
  hint(id: string): void {
    if (this.#lastId !== null && !this.#needsResync && isStreamId(id) && compareIds(id, this.#lastId) <= 0)
      return;
    this.check();
  }

  resyncSoon(): void {
    this.#needsResync = true;
    this.check();
  }

  /** Runs one check now, or once more after the one running (checks never overlap). */
  check(): Promise<void> {
    if (this.#running === undefined) {
      this.#running = this.#pass().finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined;
      return this.check();
    });
    return this.#queued;
  }

  /** One check; never rejects: a failure is reported and leaves the copy to a resync. */
  async #pass(): Promise<void> {
    const startedAt = Date.now();
    const startedAtMonotonic = performance.now();
    try {
      if (this.#unsettled) throw new RedisCallError('still waiting for an earlier answer');
      if (this.#needsResync) await this.#resync();
      else await this.#catchUp();
      // Confirmed in sync as of when the check was sent (not answered): the bound is kept.
      this.#syncedAt = startedAt;
      this.#syncedAtMonotonic = startedAtMonotonic;
      this.context.reportSuccess(this);
      this.#markReady();
    } catch (error) {
      this.#needsResync = true;
      this.context.reportFailure(this, reasonOf(error));
    }
  }

  /** A call of a check, tracked so that a timed-out one blocks the next until it settles. */
  #call<T>(promise: Promise<T>, what: string, withinMs?: number): Promise<T> {
    this.#unsettled = true;
    promise.then(
      () => {
        this.#unsettled = false;
      },
      () => {
        this.#unsettled = false;
      },
    );
    return this.context.timed(promise, what, withinMs);
  }

  async #resync(): Promise<void> {
    const replies = await this.#call(
      this.context
        .connected()
        .multi()
        .hGetAll(this.keys.data)
        .xRevRange(this.keys.log, '+', '-', { COUNT: 1 })
        .exec(),
      `resync of ${this.name}`,
      // Off the request path, and a large hash takes a while (100,000 entries: about 2 s on
      // loopback): half the staleness bound, so one slow resync does not make the copy stale.
      Math.max(this.context.commandTimeoutMs, this.context.maxStaleMs / 2),
    );
    const next = new Map<string, StoredValue>();
    let skipped = 0;
    for (const [field, json] of pairsOf(replies[0])) {
      try {
        next.set(field, parsedValue(json));
      } catch {
        // Kept as null, not left out: a field that exists says something (a seed's key revoked,
        // a token revoked), and every consumer reads a value it cannot use as a refusal.
        next.set(field, null);
        skipped++;
      }
    }
    if (skipped > 0)
      this.context.warn(`${this.name}: ${skipped} stored value(s) are not JSON; kept as null (refusing)`);
    const last = entriesOf(replies[1])[0];
    this.#copy.replace(next);
    this.#lastId = last?.id ?? null;
    this.#needsResync = false;
  }

  async #catchUp(): Promise<void> {
    for (;;) {
      const from = this.#lastId;
      const entries = entriesOf(
        await this.#call(
          this.context
            .connected()
            .xRange(this.keys.log, from ?? '-', '+', { COUNT: from === null ? 1 : BATCH }),
          `poll of ${this.name}`,
        ),
      );
      // Empty at the last resync: any entry now may follow others already trimmed.
      if (from === null) {
        if (entries.length > 0) await this.#resync();
        return;
      }
      // Read from our own last entry, inclusive: finding it first proves nothing was missed.
      if (entries[0]?.id !== from) {
        await this.#resync();
        return;
      }
      for (const entry of entries.slice(1)) {
        this.#applyEntry(entry);
        this.#lastId = entry.id;
      }
      if (entries.length < BATCH) return;
    }
  }

  #applyEntry(entry: LogEntry): void {
    const { op, field, value } = entry.message;
    if (field === undefined) return;
    if (op === 'delete') {
      this.#copy.apply(field, undefined);
      return;
    }
    if (op !== 'put' || value === undefined) return;
    try {
      this.#copy.apply(field, parsedValue(value));
    } catch {
      // As in a resync: a value present but unreadable is null, which consumers refuse on.
      this.#copy.apply(field, null);
      this.context.warn(`${this.name}: a log entry's value is not JSON; kept as null (refusing)`);
    }
  }

  #connectedFor(what: string): RedisClientLike {
    try {
      return this.context.connected();
    } catch (error) {
      throw new RedisCallError(`${what}: ${reasonOf(error)}`);
    }
  }

  async #write(op: 'put' | 'delete', field: string, form: StoredForm | undefined): Promise<void> {
    checkedName(field, 'a field');
    const multi = this.#connectedFor(`${op} in ${this.name}`).multi();
    if (form === undefined) multi.hDel(this.keys.data, field);
    else multi.hSet(this.keys.data, field, form.json);
    const message: Record<string, string> =
      form === undefined ? { op: 'delete', field } : { op: 'put', field, value: form.json };
    const replies = await this.context.timed(
      multi
        .xAdd(this.keys.log, '*', message, {
          TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: LOG_LENGTH },
        })
        .exec(),
      `${op} in ${this.name}`,
    );
    await this.#written(textOf(replies[1]), field, form?.value);
  }

  /** {@link Collection.deleteIf}: compare, delete and log in one script (see DELETE_IF). */
  async #deleteIf(field: string, expected: StoredForm): Promise<boolean> {
    checkedName(field, 'a field');
    const reply = await this.context.timed(
      this.#connectedFor(`delete in ${this.name}`).eval(DELETE_IF, {
        keys: [this.keys.data, this.keys.log],
        arguments: [field, expected.json, String(LOG_LENGTH)],
      }),
      `delete in ${this.name}`,
    );
    const id = textOf(reply);
    if (id === undefined) return false;
    await this.#written(id, field, undefined);
    return true;
  }

  /** After Redis took a write logged as `id`: the hint, then this replica's copy, in log order. */
  async #written(id: string | undefined, field: string, value: StoredValue | undefined): Promise<void> {
    if (id === undefined) {
      this.#copy.apply(field, value);
      return;
    }
    // The hint goes after the write is acknowledged; a hint lost is caught by the next poll.
    try {
      this.context
        .connected()
        .publish(this.keys.changes, id)
        .catch(() => undefined);
    } catch {
      // disconnected just now: the write is done, the other replicas' polls find it
    }
    // Applied through the log, in order with the other replicas' changes, before resolving; not
    // waiting longer than one call may take (a resync can).
    await this.context.timed(this.check(), 'catch-up').catch(() => undefined);
    if (this.#lastId === null || compareIds(this.#lastId, id) < 0) {
      // Redis took the write but the catch-up failed: apply it now (a later catch-up replays the
      // log in order and ends on the same value) rather than resolve with this replica behind.
      this.#copy.apply(field, value);
    }
  }
}

interface LogEntry {
  readonly id: string;
  readonly message: { op?: string; field?: string; value?: string };
}

/** node-redis gives text as strings, or Buffers under a type mapping. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return undefined;
}

/** The pairs of an HGETALL reply: an object (RESP2 and RESP3 default), a Map, or a flat list. */
function pairsOf(reply: unknown): Array<[string, string]> {
  const raw: Array<[unknown, unknown]> =
    reply instanceof Map
      ? [...reply.entries()]
      : Array.isArray(reply)
        ? reply.flatMap((item, index, all) =>
            index % 2 === 0 ? [[item, all[index + 1]] as [unknown, unknown]] : [],
          )
        : typeof reply === 'object' && reply !== null
          ? Object.entries(reply)
          : [];
  const pairs: Array<[string, string]> = [];
  for (const [field, value] of raw) {
    const f = textOf(field);
    const v = textOf(value);
    if (f !== undefined && v !== undefined) pairs.push([f, v]);
  }
  return pairs;
}

/** The entries of an XRANGE / XREVRANGE reply, as node-redis 5 transforms them ({ id, message }). */
function entriesOf(reply: unknown): LogEntry[] {
  if (!Array.isArray(reply)) return [];
  const entries: LogEntry[] = [];
  for (const item of reply) {
    if (typeof item !== 'object' || item === null) continue;
    const id = textOf((item as { id?: unknown }).id);
    if (id === undefined) continue;
    const message: Record<string, string> = {};
    for (const [key, value] of pairsOf((item as { message?: unknown }).message)) message[key] = value;
    entries.push({ id, message });
  }
  return entries;
}

/** Anyone may PUBLISH on the channel: a hint is only trusted as an id when it looks like one. */
function isStreamId(value: string): boolean {
  return /^\d{1,20}-\d{1,20}$/.test(value);
}

/** Orders two stream ids (`<ms>-<seq>`). */
function compareIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

/** What a log line says of a failure: our own text, or an error's code or class, never its message. */
function reasonOf(error: unknown): string {
  if (error instanceof RedisCallError) return error.reason;
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'error';
}
