import type { ASTNode } from '@marcbachmann/cel-js';
import { CEL_LIMITS } from './cel-limits.js';

/**
 * Start-up pass over a type-checked rule: makes the operations whose meaning depends on a
 * run-time type strict (cel-strict.ts), and estimates the rule's worst-case cost.
 *
 * "Untyped" is a value whose type the checker only knows as `dyn`: a claim (`jwt`, `claims`,
 * `apiKey`, `basicAuth`, `auth` fields), an element a macro iterates, a value picked out of one.
 * `request.*` is exempt: portcullis builds it, its maps are maps and its strings strings, so
 * `"x-team" in request.headers` keeps its key-membership meaning. On untyped values:
 * - `a == b`, `a != b`      -> strictEquals: two different kinds err instead of comparing unequal
 *                               (on request.* values too; a comparison with the literal `null`
 *                               keeps CEL's meaning)
 * - `x in L`, `L.contains(x)` -> strictIn: L must be a list (a string or a map errs)
 * - `L.exists(..)` and the other macros -> strictList(L): a list, not a map's keys or a string
 * - `a + b`                  -> bounded operands
 * - `L[0]` (an int index)     -> strictList(L)[0]: a map with a key "0" is not a list
 * `.contains` on an untyped value therefore always means list membership, whatever the issuer
 * sent; a substring test on a claim is written `string(jwt.x).contains("y")`.
 */

/** The macros that iterate their receiver. */
const ITERATING_MACROS = new Set(['all', 'exists', 'exists_one', 'filter', 'map']);
/** Calls whose work grows with a collection's size (beyond the macros and `in`). */
const LINEAR_CALLS = new Set(['join', 'split', 'contains']);

type Node = ASTNode & { readonly checkedType?: { readonly kind?: string; readonly name?: string } };

const children = (node: Node): Node[] => {
  const found: Node[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) for (const item of value) visit(item);
    else if (typeof value === 'object' && value !== null && 'op' in value) found.push(value as Node);
  };
  if (node.op !== 'value' && node.op !== 'id') visit(node.args);
  return found;
};

/** `request`, `request.headers`, `request.headers["x"]`: values portcullis typed itself. */
function isRequestPath(node: Node): boolean {
  if (node.op === 'id') return node.args === 'request';
  if (node.op === '.' || node.op === '[]') return isRequestPath(node.args[0] as Node);
  return false;
}

/** A map whose keys `in` may test: request's maps, a map-typed variable, a map literal. */
function isKnownMap(node: Node, maps: ReadonlySet<string>): boolean {
  if (node.op === 'id' && maps.has(node.args)) return true;
  return isRequestPath(node) || node.checkedType?.kind === 'map';
}

const isDyn = (node: Node): boolean => (node.checkedType?.kind ?? 'dyn') === 'dyn';

function isUntyped(node: Node): boolean {
  return isDyn(node) && !isRequestPath(node);
}

const isNullLiteral = (node: Node): boolean => node.op === 'value' && node.args === null;

function mayBeCollection(node: Node): boolean {
  const kind = node.checkedType?.kind ?? 'dyn';
  return kind === 'dyn' || kind === 'list' || kind === 'map';
}

/** Collections a rule iterates: a literal list's own length, anything else at the limit. */
function elements(node: Node): number {
  return node.op === 'list' ? node.args.length : CEL_LIMITS.collectionSize;
}

/** The id at the root of a `.`/`[]` path, if the node is such a path. */
function pathRoot(node: Node): string | undefined {
  if (node.op === 'id') return node.args;
  if (node.op === '.' || node.op === '[]') return pathRoot(node.args[0] as Node);
  return undefined;
}

/**
 * Worst-case steps of one evaluation, every run-time collection at `collectionSize`. A
 * collection nested in the element a macro visits (`o.roles` in `jwt.orgs.exists(o, ...)`) is
 * counted once, at the run-time element budget of one evaluation (cel-strict.ts), not once per
 * element: over all the elements it is part of the one collection the macro iterates. A collection that is not (`jwt.b` in `jwt.a.all(x, x in jwt.b)`) is visited whole for
 * every element, and multiplies.
 */
export function estimateCost(node: Node, element?: string): number {
  return cost(node, element, { once: 0 });
}

function cost(node: Node, element: string | undefined, tally: { once: number }): number {
  const own = (): number => children(node).reduce((sum, child) => sum + cost(child, element, tally), 1);
  // `perElement` steps for each element of `collection`. Over a part of the current element,
  // all such scans together visit at most evaluationElements: added once to the tally, not
  // multiplied by the enclosing macro.
  const scan = (collection: Node, perElement: number): number => {
    if (element !== undefined && pathRoot(collection) === element) {
      tally.once += CEL_LIMITS.evaluationElements * perElement;
      return 0;
    }
    return elements(collection) * perElement;
  };
  let steps: number;
  switch (node.op) {
    case 'rcall': {
      const [name, receiver, args] = node.args;
      if (ITERATING_MACROS.has(name)) {
        const variable = (args[0] as Node).op === 'id' ? ((args[0] as Node).args as string) : undefined;
        const inner = { once: 0 };
        const body = (args as Node[]).reduce((sum, arg) => sum + cost(arg, variable, inner), 1);
        steps = cost(receiver as Node, element, tally) + scan(receiver as Node, body) + inner.once;
      } else {
        steps = own() + (LINEAR_CALLS.has(name) ? scan(receiver as Node, 1) : 0);
      }
      break;
    }
    case 'in':
      steps = own() + scan(node.args[1] as Node, 1);
      break;
    case '==':
    case '!=':
    case '+':
      // Linear only when both sides may be collections: against a scalar it is one step.
      steps =
        own() + (node.args.every((side) => mayBeCollection(side as Node)) ? CEL_LIMITS.collectionSize : 0);
      break;
    default:
      steps = own();
  }
  return steps;
}

export function countNodes(node: Node): number {
  return children(node).reduce((sum, child) => sum + countNodes(child), 1);
}

/**
 * Source of `node` with the strict forms in place; literals keep their original spelling.
 * `maps`: the variables that are always maps (a JWT payload is an object), so that
 * `"groups" in jwt` stays a key test.
 */
export function strictSource(node: Node, source: string, maps: ReadonlySet<string>): string {
  const print = (child: ASTNode) => strictSource(child as Node, source, maps);
  // Anything that is not a primary expression is parenthesised, so no rewrite can change how
  // the surrounding operators bind.
  const operand = (child: ASTNode) => {
    const text = print(child);
    return ['id', 'value', 'call', 'rcall', '.', '[]', 'list', 'map'].includes(child.op) ? text : `(${text})`;
  };
  const call = (name: string, ...args: ASTNode[]) => `${name}(${args.map(print).join(', ')})`;
  switch (node.op) {
    case 'value':
      return source.slice(node.start, node.end);
    case 'id':
      return node.args;
    case '==':
    case '!=': {
      const [left, right] = node.args;
      // request.* too: its values are typed by portcullis, but strict equality costs nothing
      // when the types agree, and fails closed should a request value ever vary in type.
      if (!isDyn(left as Node) && !isDyn(right as Node)) break;
      if (isNullLiteral(left as Node) || isNullLiteral(right as Node)) break;
      const equal = call('strictEquals', left, right);
      return node.op === '==' ? equal : `!${equal}`;
    }
    case 'in': {
      const [item, collection] = node.args;
      if (isKnownMap(collection as Node, maps)) {
        return isUntyped(item as Node) ? call('strictKeyIn', item, collection) : binary(node, operand);
      }
      return call('strictIn', item, collection);
    }
    case '+': {
      const [left, right] = node.args.map((side) =>
        isUntyped(side as Node) ? `bounded(${print(side)})` : operand(side),
      );
      return `${left} + ${right}`;
    }
    case 'rcall': {
      const [name, receiver, args] = node.args;
      if (name === 'contains' && isUntyped(receiver as Node)) return call('strictIn', args[0]!, receiver);
      if (ITERATING_MACROS.has(name) && receiver.op !== 'list') {
        const list = isUntyped(receiver as Node) ? 'strictList' : 'bounded';
        return `${list}(${print(receiver)}).${name}(${args.map(print).join(', ')})`;
      }
      return `${operand(receiver)}.${name}(${args.map(print).join(', ')})`;
    }
    case 'call':
      return `${node.args[0]}(${node.args[1].map(print).join(', ')})`;
    case '.':
      return `${operand(node.args[0])}.${node.args[1]}`;
    case '[]': {
      // An int index means a list: cel-js would also read `{"0": "admins"}[0]` as "admins".
      const [receiver, index] = node.args as [Node, Node];
      const type = index.checkedType?.name;
      if (isUntyped(receiver) && type === 'int') {
        return `strictList(${print(receiver)})[${print(index)}]`;
      }
      return `${operand(receiver)}[${print(index)}]`;
    }
    case 'list':
      return `[${node.args.map(print).join(', ')}]`;
    case 'map':
      return `{${node.args.map(([key, value]) => `${print(key)}: ${print(value)}`).join(', ')}}`;
    case '?:':
      return `${operand(node.args[0])} ? ${operand(node.args[1])} : ${operand(node.args[2])}`;
    case '!_':
      return `!${operand(node.args)}`;
    case '-_':
      return node.args.op === 'value' ? source.slice(node.start, node.end) : `-${operand(node.args)}`;
    default:
      break;
  }
  if ('args' in node && Array.isArray(node.args) && node.args.length === 2) return binary(node, operand);
  throw new Error(`cannot rewrite CEL operation ${node.op}`);
}

function binary(node: Node, operand: (child: ASTNode) => string): string {
  const [left, right] = node.args as [ASTNode, ASTNode];
  return `${operand(left)} ${node.op} ${operand(right)}`;
}
