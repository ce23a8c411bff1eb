import { CEL_LIMITS } from './cel-limits.js';

/**
 * Type-strict forms of the CEL operations whose meaning changes with their operand's type.
 * Claims are JSON the issuer chose: `groups` may arrive as a list, a string, a map or null, and
 * standard CEL gives each a meaning (`.contains` is a substring test on a string, `in` and the
 * macros read a map's keys, `==` between two types is false, so `!=` is true). The compiler
 * (cel-rewrite.ts) routes those operations on values whose type is only known at run time
 * here, where a value of another type than the operation was written for is an error, and an
 * erring rule fails closed (deny for `deny`, not granted for `allow` and `require`).
 */

/** A rule was given a value of a type it was not written for, or a collection too large. */
export class RuleInputError extends Error {
  override name = 'RuleInputError';
}

type Kind = 'null' | 'bool' | 'number' | 'string' | 'bytes' | 'list' | 'map' | 'other';

function kindOf(value: unknown): Kind {
  switch (typeof value) {
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'number';
    case 'string':
      return 'string';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'list';
      if (value instanceof Uint8Array) return 'bytes';
      if (value instanceof Map) return 'map';
      if (isUnsigned(value)) return 'number';
      return Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null
        ? 'map'
        : 'other';
    default:
      return 'other';
  }
}

/** cel-js's uint: an object whose valueOf() is a bigint. */
function isUnsigned(value: object): value is { valueOf(): bigint } {
  return (
    typeof (value as { valueOf?: unknown }).valueOf === 'function' && typeof value.valueOf() === 'bigint'
  );
}

function numeric(value: unknown): number | bigint {
  return typeof value === 'object' && value !== null
    ? (value.valueOf() as bigint)
    : (value as number | bigint);
}

/** Numbers compare by value across int, uint and double (JSON numbers arrive as doubles). */
function sameNumber(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a === b;
  const [double, integer] = typeof a === 'number' ? [a, b as bigint] : [b as number, a as bigint];
  return Number.isInteger(double) && BigInt(double) === integer;
}

function entries(map: object): [unknown, unknown][] {
  return map instanceof Map ? [...map.entries()] : Object.entries(map);
}

function sizeOf(collection: object): number {
  if (Array.isArray(collection)) return collection.length;
  if (collection instanceof Map) return collection.size;
  let size = 0;
  for (const key in collection) if (Object.hasOwn(collection, key)) size++;
  return size;
}

/** What the current evaluation may still visit (evaluation is sync: one at a time). */
let elementBudget: number = CEL_LIMITS.evaluationElements;

/** Called before each evaluation of a rule. */
export function resetElementBudget(): void {
  elementBudget = CEL_LIMITS.evaluationElements;
}

function charge(elements: number): void {
  elementBudget -= elements;
  if (elementBudget < 0) throw new RuleInputError('a rule visited too many elements in one evaluation');
}

function assertBounded(collection: object): void {
  const size = sizeOf(collection);
  if (size > CEL_LIMITS.collectionSize) {
    throw new RuleInputError(`a collection of more than ${CEL_LIMITS.collectionSize} elements`);
  }
  charge(size);
}

/**
 * Equality that errs when the two sides are of different kinds: `jwt.role == "guest"` with a
 * role list (or null) is neither true nor false. Null is a kind like the others; a comparison
 * with the literal `null` is left to CEL by the compiler, so `jwt.x == null` still works.
 * Lists and maps compare element by element with the same rule, within the element budget.
 */
export function strictEquals(a: unknown, b: unknown): boolean {
  const left = kindOf(a);
  const right = kindOf(b);
  if (left !== right) throw new RuleInputError(`compared a ${left} with a ${right}`);
  switch (left) {
    case 'number':
      return sameNumber(numeric(a), numeric(b));
    case 'bytes':
      return Buffer.compare(a as Uint8Array, b as Uint8Array) === 0;
    case 'list': {
      const [x, y] = [a as unknown[], b as unknown[]];
      if (x.length !== y.length) return false;
      assertBounded(x);
      return x.every((item, index) => strictEquals(item, y[index]));
    }
    case 'map': {
      const x = entries(a as object);
      const y = new Map(entries(b as object));
      if (x.length !== y.size) return false;
      assertBounded(a as object);
      return x.every(([key, value]) => y.has(key) && strictEquals(value, y.get(key)));
    }
    case 'other':
      if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
      return a === b;
    default:
      return a === b;
  }
}

/** The list a list operation was written for: anything else (a string, a map, null) errs. */
export function strictList(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new RuleInputError(`a list operation on a ${kindOf(value)}`);
  assertBounded(value);
  return value;
}

/** `item in list` and `list.contains(item)`: list membership, each comparison type-strict. */
export function strictIn(item: unknown, list: unknown): boolean {
  for (const element of strictList(list)) if (strictEquals(item, element)) return true;
  return false;
}

/**
 * `x in request...` with an untyped x: a string key of a map portcullis builds (request.headers,
 * request.query), or a strict element of a list there.
 */
export function strictKeyIn(key: unknown, map: unknown): boolean {
  if (Array.isArray(map)) return strictIn(key, map);
  if (typeof key !== 'string') throw new RuleInputError(`a map key that is a ${kindOf(key)}`);
  if (kindOf(map) !== 'map') throw new RuleInputError(`key membership in a ${kindOf(map)}`);
  if (map instanceof Map) return map.get(key) !== undefined;
  return Object.hasOwn(map as object, key) && (map as Record<string, unknown>)[key] !== undefined;
}

/** A value a rule iterates or concatenates: a list or map at most collectionSize long. */
export function bounded(value: unknown): unknown {
  const kind = kindOf(value);
  if (kind === 'list' || kind === 'map') assertBounded(value as object);
  return value;
}
