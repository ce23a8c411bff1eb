import { ConfigError } from '../errors.js';
import { logText } from '../logging/log-text.js';

/**
 * Unknown option keys are refused, never ignored: an ignored `audience` (the spelling of
 * express-jwt and its kin) silently turns the audience check off, an ignored `scope` on an API
 * key record silently grants `["*"]`. TypeScript only catches a typo in an object literal;
 * options read from JSON, YAML or the environment reach us unchecked, so every options object
 * is checked here at start-up.
 *
 * The list of known keys of each options interface is declared beside the code that reads it
 * with {@link keysOf}, typed `Record<keyof T, true>`: a key added to (or removed from) the
 * interface without the list is a compile error, so the list cannot drift from the type.
 */

/** Every key of every member of a union (`keyof` of a union gives only the common ones). */
export type AllKeys<T> = T extends unknown ? keyof T : never;

/**
 * What to say about a key that is not an option: the name of the option meant (shown as
 * "did you mean `name`?"), or a whole sentence (`{ say }`) for spellings of other libraries
 * that have no single counterpart here.
 */
export type Hint = string | { say: string };

/** The keys of one options object, with what to say about well-known wrong spellings. */
export interface KnownKeys {
  /** What the message calls the object: `jwtAuth`, `an API key record`. */
  readonly owner: string;
  readonly names: readonly string[];
  readonly hints: Readonly<Record<string, Hint>>;
}

/**
 * Declares the known keys of `T`: `keysOf<JwtAuthOptions>()('jwtAuth', { mode: true, ... })`.
 * Curried so that `T` is given and the key list is checked against it, not inferred from it.
 */
export function keysOf<T>() {
  return (
    owner: string,
    keys: Readonly<Record<AllKeys<T>, true>>,
    hints: Readonly<Record<string, Hint>> = {},
  ): KnownKeys => knownKeys(owner, Object.keys(keys), hints);
}

/** The known keys `names` of `owner`, with its hints; schemas give `names` from their shape. */
export function knownKeys(
  owner: string,
  names: readonly string[],
  hints: Readonly<Record<string, Hint>> = {},
): KnownKeys {
  // Looked up folded, so `jwks_uri`, `jwksUri` and `JWKS_URI` get one answer. A spelling that
  // folds to a real option is left to the distance search, which names that option.
  const options = new Set(names.map(folded));
  const table: Record<string, Hint> = Object.create(null);
  for (const [spelling, hint] of Object.entries(hints))
    if (!options.has(folded(spelling))) table[folded(spelling)] = hint;
  return Object.freeze({ owner, names: Object.freeze([...names]), hints: Object.freeze(table) });
}

/** Merges two hint tables (a shared table of other libraries' spellings and a local one). */
export function withHints(
  ...tables: readonly Readonly<Record<string, Hint>>[]
): Readonly<Record<string, Hint>> {
  return Object.assign(Object.create(null), ...tables);
}

/** `field.key`, or `field["odd key"]` for a key that is no identifier (shown cut short). */
export function keyPath(field: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key) && key.length <= 64) return field === '' ? key : `${field}.${key}`;
  // logText, not JSON.stringify: JSON leaves U+2028, U+0085 and the C1 controls raw, and a key
  // read from a keys file reaches the log when a reload is refused.
  return `${field}["${logText(key, 64)}"]`;
}

/**
 * The keys of `value` that a reader of it could see: its own enumerable string keys, and on it
 * and on prototypes other than `Object.prototype` also the getters and the other enumerable
 * keys (an options object built with `Object.create`, a class whose `get audience()` would
 * otherwise be ignored without a word, `Object.defineProperty(options, 'audience', ...)`).
 * Hidden methods are behaviour, not options, and are not listed: a class's methods and
 * `constructor`, and the `get()`/`has()` that node-config hides on each of its objects. Symbol
 * keys are skipped: they cannot be misspellings of an option and nothing reads them. A JSON key
 * `__proto__` is an own key like any other here, and is refused like any unknown key.
 */
export function visibleKeys(value: object): string[] {
  const keys = Object.keys(value);
  for (let holder: object | null = value; holder !== null && holder !== Object.prototype; ) {
    for (const key of Object.getOwnPropertyNames(holder)) {
      if (keys.includes(key)) continue;
      const property = Object.getOwnPropertyDescriptor(holder, key);
      if (property === undefined) continue;
      const hiddenMethod = !property.enumerable && typeof property.value === 'function';
      const read = property.get !== undefined || property.enumerable || (holder === value && !hiddenMethod);
      if (read) keys.push(key);
    }
    holder = Object.getPrototypeOf(holder);
  }
  return keys;
}

/**
 * Throws a ConfigError naming the first key of `value` that `known` does not list, with its full
 * path (`providers[1].jwks.urll`) and the option most likely meant. An unknown key is refused
 * even when its value is `undefined`: `audience: process.env.AUD` is a typo whatever AUD holds.
 * Only key names appear in the message, never a value (values may be secrets).
 */
export function refuseUnknownKeys(
  value: unknown,
  known: KnownKeys,
  field: string,
  /** For the second check of a form: another form's key left `undefined` is harmless there. */
  ignoreUndefined = false,
): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(
      field === '' ? known.owner : field,
      `must be an object: the options of ${known.owner}`,
    );
  }
  for (const key of visibleKeys(value)) {
    if (known.names.includes(key)) continue;
    if (ignoreUndefined && (value as Record<string, unknown>)[key] === undefined) continue;
    throw new ConfigError(keyPath(field, key), unknownKeyProblem(key, known));
  }
}

/** The message for a key that `known` does not list. */
export function unknownKeyProblem(key: string, known: KnownKeys): string {
  const unknown = `is not an option of ${known.owner}`;
  const hint = known.hints[folded(key)] ?? nearestName(key, known.names);
  if (hint === undefined) return `${unknown}; its options are ${known.names.join(', ')}`;
  if (typeof hint === 'string') return `${unknown}; did you mean \`${hint}\`?`;
  return `${unknown}; ${hint.say}`;
}

/**
 * Refuses two forms of one thing given together (`jwks: { url, inline }`), which used to be
 * resolved by a silent order of precedence. Keys whose value is `undefined` count as absent.
 * Returns the one form given, or undefined when none is.
 */
export function atMostOne<K extends string>(
  value: object,
  forms: readonly K[],
  field: string,
  why = 'give one',
): K | undefined {
  const given = forms.filter((form) => (value as Record<string, unknown>)[form] !== undefined);
  if (given.length > 1) {
    const both = given.map((form) => `\`${form}\``).join(' and ');
    throw new ConfigError(field === '' ? 'options' : field, `gives both ${both}: ${why}`);
  }
  return given[0];
}

/**
 * Refuses a flag that is set but not a boolean: `defaultDeny: 'true'` from YAML or the
 * environment must not read as false (for `defaultDeny`, that is a policy left open).
 */
export function refuseNonBoolean(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'boolean')
    throw new ConfigError(field, 'must be true or false');
}

/** Lower-case without `_` and `-`: `clock_skew_seconds` and `ClockSkewSeconds` are one spelling. */
function folded(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

/** The known name nearest to `key`, when one is near enough to be the option meant. */
function nearestName(key: string, names: readonly string[]): string | undefined {
  const typed = folded(key);
  if (typed === '') return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of names) {
    const candidate = folded(name);
    let distance = editDistance(typed, candidate, bestDistance);
    // A cut-short or run-on name (`maxTokenLen`, `timeoutMsec`) is meant, however far in edits.
    const shorter = typed.length < candidate.length ? typed : candidate;
    if (distance > 1 && shorter.length >= 4 && (candidate.startsWith(typed) || typed.startsWith(candidate)))
      distance = 1;
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(Math.min(typed.length, folded(best ?? '').length) / 3));
  return bestDistance <= allowed ? best : undefined;
}

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions: `audeinces`).
 * Option names are short and this runs only at start-up on an error path; `limit` stops early
 * once a row cannot beat the best candidate so far.
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let cell = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        cell = Math.min(cell, before[j - 2]! + 1);
      current.push(cell);
      rowMin = Math.min(rowMin, cell);
    }
    if (rowMin >= limit) return limit;
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** Hints for a `{ file }` object (htpasswd, keys, secrets). */
export const FILE_HINTS: Readonly<Record<string, Hint>> = {
  path: 'file',
  filename: 'file',
  filePath: 'file',
};
