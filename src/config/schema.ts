/**
 * Option schemas: one zod definition per options object gives its TypeScript type, its run-time
 * check and the field path of every mistake. Usage:
 *
 *   const CACHE = optionsObject('cache', {                  // the owner named in messages
 *     maxEntries: bounded(1, 1e6, 'must be an integer from 1 to 1000000', { integer: true }).optional(),
 *     ttlSeconds: bounded(0, 86_400, 'must be ... from 0 to 86400', { exclusiveMinimum: true }).optional(),
 *   }, { max: 'maxEntries', ttl: 'ttlSeconds' });           // hints for other libraries' spellings
 *   const CHECKED = refined(CACHE, (cache, ctx) => { if (bad(cache)) refuse(ctx, 'problem', 'ttlSeconds') });
 *   export interface CacheSettings { maxEntries?: number; ttlSeconds?: number } // TSDoc on each key
 *   lockedTo<CacheSettings, z.output<typeof CACHE>>(true);  // compile error if they differ
 *   const read = parseOptions(CHECKED, options.cache, 'cache'); // ConfigError `cache.ttlSeconds`
 *
 * Give every leaf its own problem text (`{ error }`, or text()/bounded()/flag()): it covers the
 * type issue and every check chained on it. Unknown keys are refused by optionsObject itself.
 * Semantic checks (a loopback URL, two forms given) stay in their modules, through refined().
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { logText } from '../logging/log-text.js';
import {
  type Hint,
  type KnownKeys,
  keyPath,
  knownKeys,
  unknownKeyProblem,
  visibleKeys,
} from './known-keys.js';

export { z };

/** The schema of an options object made by {@link optionsObject}. */
export type OptionsSchema<Shape extends z.ZodRawShape> = z.ZodPipe<
  z.ZodUnknown,
  z.ZodObject<Shape, z.core.$strict>
>;

/** What each options schema is called, for a mistake at the root of a value given with no field. */
const owners = new WeakMap<z.core.$ZodType, string>();
/** The known keys of each options schema, for callers that still read keys by hand. */
const keyLists = new WeakMap<z.core.$ZodType, KnownKeys>();

/**
 * An options object: the keys of `shape` and no other. Unknown keys are refused before any field
 * is read, through the hint machinery of known-keys (getters and prototype keys included, "did you
 * mean", other libraries' spellings), and even when their value is `undefined`. The known-key list
 * is the shape's own keys, so it cannot drift from the type.
 */
export function optionsObject<Shape extends z.ZodRawShape>(
  owner: string,
  shape: Shape,
  hints: Readonly<Record<string, Hint>> = {},
  /** What to say of a value that is not an object, when the owner's name is not enough. */
  notAnObject = `must be an object: the options of ${owner}`,
): OptionsSchema<Shape> {
  const known = knownKeys(owner, Object.keys(shape), hints);
  const refuseUnknown = z.unknown().check((ctx) => {
    const value = ctx.value;
    // Not an object: the object schema after this one says so, in its own words.
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const key of visibleKeys(value)) {
      if (known.names.includes(key)) continue;
      ctx.issues.push({ code: 'custom', message: unknownKeyProblem(key, known), path: [key], input: value });
      // One unknown key is enough to refuse; the first is the one named (as before schemas).
      return;
    }
  });
  // Also for `undefined`: `jwtAuth()` called without options is told what to give.
  const object = z.strictObject(shape, {
    error: (issue) => (issue.code === 'invalid_type' ? notAnObject : undefined),
  });
  owners.set(object, owner);
  keyLists.set(object, known);
  return refuseUnknown.pipe(object);
}

/** The known keys of a schema made by {@link optionsObject} (for hints in code that is not a schema yet). */
export function knownKeysOf(schema: z.core.$ZodType): KnownKeys {
  const known = found(schema, keyLists);
  if (known === undefined) throw new TypeError('not a schema made by optionsObject()');
  return known;
}

/**
 * Parses `value` with `schema`; the first mistake becomes a ConfigError naming its full path
 * under `field` (`providers[1].jwks.url`) and the problem text the schema gives. Returns the
 * parsed value: a new plain object with the known keys only (getters read once, here).
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, field = ''): z.output<S> {
  const result = schema.safeParse(value, { error: fallbackProblem });
  if (result.success) return result.data;
  throw configErrorOf(result.error.issues[0]!, schema, field);
}

/** The ConfigError for one zod issue found under `field`. */
export function configErrorOf(issue: z.core.$ZodIssue, schema: z.ZodType, field = ''): ConfigError {
  const { path, message } = pointed(issue);
  const named = fieldPath(schema, path, field);
  return new ConfigError(named === '' ? (found(schema, owners) ?? 'options') : named, message);
}

/** Lists whose items' mistakes are reported at the list itself (see {@link whole}). */
const wholes = new WeakSet<z.core.$ZodType>();

/**
 * Reports the mistakes inside `list` at the list's own path (`algorithms`, not `algorithms[1]`),
 * with the item's text: for lists whose field path users and tests know. Apply it after the
 * checks on the list (`.min()` makes a new schema), before `.readonly()` and `.optional()`.
 */
export function whole<S extends z.ZodArray>(list: S): S {
  wholes.add(list);
  return list;
}

type Def = {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
  options?: z.core.$ZodType[];
  out?: z.core.$ZodType;
  innerType?: z.core.$ZodType;
};

/**
 * The field an issue's path names under `field`, following the schema along it: `a.b`, `a[1]`,
 * `a["odd key"]`; a key of a record (a map of names the user chose, such as header names) is
 * always bracketed; the path stops at a list marked {@link whole}.
 */
function fieldPath(schema: z.core.$ZodType, path: readonly PropertyKey[], field: string): string {
  let named = field;
  let candidates: z.core.$ZodType[] = [schema];
  for (const segment of path) {
    const holders = candidates.map(holder).filter((at) => at !== undefined);
    if (holders.some((at) => wholes.has(at))) return named;
    const inRecord = holders.some((at) => def(at).type === 'record');
    if (typeof segment === 'number') named = `${named}[${segment}]`;
    else if (typeof segment === 'string')
      named = inRecord ? `${named}["${logText(segment, 64)}"]` : keyPath(named, segment);
    candidates = holders.flatMap((at) => {
      const { type, shape, element, valueType } = def(at);
      if (type === 'object' && typeof segment === 'string') return shape?.[segment] ?? [];
      if (type === 'array' && typeof segment === 'number') return element ?? [];
      if (type === 'record') return valueType ?? [];
      return [];
    });
  }
  return named;

  function def(at: z.core.$ZodType): Def {
    return at._zod.def as Def;
  }

  /** Through wrappers and union forms to the schema holding the next segment (or a whole list). */
  function holder(start: z.core.$ZodType): z.core.$ZodType | undefined {
    let at: z.core.$ZodType | undefined = start;
    for (let steps = 0; at !== undefined && steps < 16; steps++) {
      const { type, options, innerType, out } = def(at);
      if (wholes.has(at) || type === 'object' || type === 'array' || type === 'record') return at;
      if (type === 'union') {
        // The first form that holds fields; the forms of one option differ in kind.
        for (const option of options ?? []) {
          const inner = holder(option);
          if (inner !== undefined) return inner;
        }
        return undefined;
      }
      at = innerType ?? out;
    }
    return undefined;
  }
}

/**
 * The issue to show for `issue`: for a union none of whose forms matched (`false` or a cache
 * object; a string or bytes), the issue of the form the value's type matched, when one got
 * past the type check (`cache.maxEntries`), else the union's own text.
 */
function pointed(issue: z.core.$ZodIssue): { path: readonly PropertyKey[]; message: string } {
  if (issue.code !== 'invalid_union') return issue;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (first === undefined) continue;
    // A form whose first issue is about the value's kind (z.custom() checks only that) is not the
    // form the user meant.
    const typeOnly =
      first.path.length === 0 &&
      (first.code === 'invalid_type' || first.code === 'invalid_value' || first.code === 'custom');
    if (typeOnly) continue;
    const inner = pointed(first);
    return { path: [...issue.path, ...inner.path], message: inner.message };
  }
  return issue;
}

/**
 * What `table` holds for the object schema of an options schema, found through the wrappers
 * that `.optional()`, refinements and the unknown-key pipe put around it.
 */
function found<V>(schema: z.core.$ZodType, table: WeakMap<z.core.$ZodType, V>): V | undefined {
  for (let at: z.core.$ZodType | undefined = schema, depth = 0; at !== undefined && depth < 8; depth++) {
    const value = table.get(at);
    if (value !== undefined) return value;
    const def = at._zod.def as { out?: z.core.$ZodType; innerType?: z.core.$ZodType };
    at = def.innerType ?? def.out;
  }
  return undefined;
}

/**
 * Our words for an issue whose schema gave none (a schema's own `error` outranks this). Never
 * shows the value: it may be a secret.
 */
function fallbackProblem(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      const expected = issue.expected as string;
      if (expected === 'boolean') return 'must be true or false';
      if (expected === 'int') return 'must be an integer';
      if (expected === 'array') return 'must be an array';
      if (expected === 'object') return 'must be an object';
      if (expected === 'function') return 'must be a function';
      return `must be a ${expected}`;
    }
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      if (issue.origin === 'array' && Number(issue.minimum) === 1) return 'must list at least one';
      return `must be at least ${String(issue.minimum)}${issue.inclusive === false ? ' (exclusive)' : ''}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}${issue.inclusive === false ? ' (exclusive)' : ''}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'invalid_union':
      return 'matches none of the accepted forms';
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return 'is not valid';
  }
}

/**
 * Adds a semantic check to `schema`, run only once everything else in it has parsed cleanly: the
 * check sees a value of the schema's type, never a half-checked one. Report with {@link refuse}.
 */
export function refined<S extends z.ZodType>(
  schema: S,
  check: (value: z.output<S>, ctx: z.RefinementCtx) => void,
): S {
  return schema.superRefine(check, { when: (payload) => payload.issues.length === 0 });
}

/**
 * Records a semantic problem from a refinement: `refined(S, (options, ctx) => { if (...)
 * refuse(ctx, 'applies only to jwks.url', 'allowSameOriginRedirects') })`. The path is relative
 * to the refined schema; none names the refined value itself.
 */
export function refuse(ctx: z.RefinementCtx, problem: string, ...path: (string | number)[]): void {
  ctx.addIssue({ code: 'custom', message: problem, path });
}

/**
 * A check for {@link refined} refusing two forms of one thing given together (`jwks: { url, inline }`), which
 * used to be resolved by a silent precedence. Keys whose value is `undefined` count as absent.
 * The problem names the object itself, as known-keys' atMostOne does.
 */
export function atMostOneOf<T extends object>(forms: readonly (keyof T & string)[], why = 'give one') {
  return (value: T, ctx: z.RefinementCtx): void => {
    const given = forms.filter((form) => value[form] !== undefined);
    if (given.length > 1)
      refuse(ctx, `gives both ${given.map((form) => `\`${form}\``).join(' and ')}: ${why}`);
  };
}

/** A flag: `'true'` from YAML or the environment must not read as false. */
export const flag = () => z.boolean({ error: 'must be true or false' });

/** A non-empty string, with one problem text for a wrong type and for `''`. */
export const text = (problem: string) => z.string({ error: problem }).min(1);

/** A number in `[min, max]` (or `(min, max]`), finite, with one problem text for every issue. */
export function bounded(
  min: number,
  max: number,
  problem: string,
  { exclusiveMinimum = false, integer = false } = {},
): z.ZodNumber {
  const base = integer ? z.int({ error: problem }) : z.number({ error: problem });
  return (exclusiveMinimum ? base.gt(min) : base.min(min)).max(max);
}

/** A function (a logger method, an `authenticate`): no JSON Schema form, refused by type only. */
export function fn<F extends (...args: never[]) => unknown>(problem: string) {
  return z.custom<F>((value) => typeof value === 'function', { error: problem });
}

/**
 * Gives a schema the output type `T` its refinements guarantee: `{ header?, cookie? }` refined
 * to exactly one form is the union `{ header } | { cookie }`. Checked one way at compile time:
 * every value of `T` must be a value of the schema's own output type.
 */
export function narrowed<T>() {
  return <S extends z.ZodType>(schema: S & ([T] extends [z.output<S>] ? unknown : never)): z.ZodType<T> =>
    schema as unknown as z.ZodType<T>;
}

/** Whether `A` and `B` are each assignable to the other. */
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Every key of every member of a union (`keyof` of a union gives only the common ones). */
type KeysOf<T> = T extends unknown ? keyof T : never;

/**
 * `true` when `A` and `B` are one type: each assignable to the other, with the same keys (an
 * optional key on one side only would pass assignability both ways).
 */
export type Locked<A, B> = Mutual<A, B> extends true ? Mutual<KeysOf<A>, KeysOf<B>> : false;

/**
 * Locks a documented interface to its schema at compile time, both ways:
 * `lockedTo<JwtAuthOptions, z.output<typeof JWT_AUTH_OPTIONS>>(true)` does not compile when a
 * key or a type differs. The public option types are such interfaces, not `z.output<...>`
 * aliases: declaration files print inferred schema types without their property TSDoc (and
 * with zod's internal types), so editor hovers in a user's project would lose the docs.
 */
export function lockedTo<A, B>(_same: Locked<A, B>): void {}
