import { type ASTNode, Environment } from '@marcbachmann/cel-js';
import { ConfigError } from '../errors.js';
import { CEL_LIMITS } from './cel-limits.js';
import { compileLiteralPattern, re2Matches, resetMatchBudget } from './cel-regex.js';
import { countNodes, estimateCost, strictSource } from './cel-rewrite.js';
import {
  bounded,
  resetElementBudget,
  strictEquals,
  strictIn,
  strictKeyIn,
  strictList,
} from './cel-strict.js';

/**
 * The variables every rule may use (`claims`: what a customAuth provider granted); a variable
 * whose scheme did not run is simply absent.
 */
export const RULE_VARIABLES = ['request', 'jwt', 'basicAuth', 'apiKey', 'auth', 'claims'] as const;

/** Every rule variable is a map when present: `"sub" in jwt` tests a key. */
const MAP_VARIABLES: ReadonlySet<string> = new Set(RULE_VARIABLES);

export type RuleContext = Partial<Record<(typeof RULE_VARIABLES)[number], unknown>>;

/** A rule compiled once at start-up. */
export type CompiledExpression = (context: RuleContext) => unknown;

// CEL's matches() is specified as RE2: linear time, no backreferences or lookaround. The
// library's built-in uses JavaScript's backtracking RegExp, where a hostile input can take
// exponential time, and it cannot be overridden. So rules are compiled with every call to
// matches() renamed to re2Matches(), which runs RE2 (@bufbuild/re2) within the limits of
// cel-regex.ts. The rename happens on the source outside string literals only.
const RE2_MATCHES = 're2Matches';

function makeEnvironment(): Environment {
  const env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false });
  for (const name of RULE_VARIABLES) env.registerVariable(name, 'dyn');
  // agentgateway's docs write `jwt.groups.contains("admins")`; standard CEL has no
  // list.contains, so it is registered here (string.contains stays as it is). On a claim the
  // compiler turns `.contains` into strictIn (cel-rewrite.ts); this overload serves lists whose
  // type the checker knows (a literal, a filter() result), with the same strict comparison.
  env.registerFunction('list.contains(dyn): bool', (list: unknown[], item: unknown) => strictIn(item, list));
  env.registerFunction(`string.${RE2_MATCHES}(string): bool`, re2Matches);
  env.registerFunction(`${RE2_MATCHES}(string, string): bool`, re2Matches);
  // The type-strict forms the compiler substitutes (cel-strict.ts).
  env.registerFunction('strictEquals(dyn, dyn): bool', strictEquals);
  env.registerFunction('strictIn(dyn, dyn): bool', strictIn);
  env.registerFunction('strictKeyIn(dyn, dyn): bool', strictKeyIn);
  env.registerFunction('strictList(dyn): list', strictList);
  env.registerFunction('bounded(dyn): dyn', bounded);
  return env;
}

const environment = makeEnvironment();

/**
 * Renames `matches(` to `re2Matches(` outside string literals (single, double, triple-quoted,
 * raw and bytes literals alike), leaving the rest of the source untouched.
 */
export function useRe2(source: string): string {
  let out = '';
  let i = 0;
  // The word that ends right before `i` (a string prefix is a whole word: r"..", b"..", rb"..").
  let word = '';
  let wordEnd = -1;
  while (i < source.length) {
    const char = source[i]!;
    // A `//` comment runs to the end of the line; a quote inside it (`// can't`) must not be
    // read as the start of a string literal, or every matches() after it escapes the rename.
    if (source.startsWith('//', i)) {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      out += source.slice(i, stop);
      i = stop;
      continue;
    }
    if (char === '"' || char === "'") {
      // Raw only when the prefix is a word of its own: the tail of a name (`user["\""]`) is not.
      const raw = wordEnd === i && /^(?:[rR][bB]?|[bB][rR])$/.test(word);
      const triple = source.startsWith(char.repeat(3), i);
      const quote = triple ? char.repeat(3) : char;
      let end = i + quote.length;
      while (end < source.length && !source.startsWith(quote, end))
        end += !raw && source[end] === '\\' ? 2 : 1;
      out += source.slice(i, end + quote.length);
      i = end + quote.length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i, i + 64))?.[0];
    if (name !== undefined) {
      const previous = source[i - 1] ?? '';
      const isName = !/[A-Za-z0-9_]/.test(previous);
      out +=
        isName && name === 'matches' && /^\s*\(/.test(source.slice(i + name.length)) ? RE2_MATCHES : name;
      i += name.length;
      word = name;
      wordEnd = i;
      continue;
    }
    out += char;
    i++;
  }
  return out;
}

/**
 * Parses and type-checks one expression, then compiles its type-strict form (cel-rewrite.ts).
 * A syntax error, an unknown function, an invalid RE2 pattern or a rule over the limits of
 * cel-limits.ts throws a ConfigError naming `field` and quoting the expression.
 */
export function compileExpression(expression: unknown, field: string): CompiledExpression {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new ConfigError(field, 'must be a CEL expression (a non-empty string)');
  }
  const quoted = quote(expression);
  if (expression.length > CEL_LIMITS.sourceLength) {
    throw new ConfigError(field, `${quoted} is longer than ${CEL_LIMITS.sourceLength} characters`);
  }
  const source = useRe2(expression);
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = environment.parse(source);
  } catch (error) {
    throw new ConfigError(field, `${quoted} does not parse: ${summary(error)}`);
  }
  if (countNodes(parsed.ast) > CEL_LIMITS.astNodes) {
    throw new ConfigError(field, `${quoted} has more than ${CEL_LIMITS.astNodes} nodes`);
  }
  // Belt and braces: should the rename above ever miss a call, refuse the rule rather than let
  // the library's backtracking matches() run.
  if (callsBuiltinMatches(parsed.ast)) {
    throw new ConfigError(field, `${quoted}: a matches() call could not be made RE2`);
  }
  const checked = parsed.check();
  if (!checked.valid) {
    throw new ConfigError(field, `${quoted} is not valid: ${summary(checked.error)}`);
  }
  for (const pattern of literalPatterns(parsed.ast)) {
    try {
      compileLiteralPattern(pattern);
    } catch {
      throw new ConfigError(field, `${quoted}: ${JSON.stringify(pattern)} is not an RE2 pattern`);
    }
  }
  const cost = estimateCost(parsed.ast);
  if (cost > CEL_LIMITS.ruleCost) {
    throw new ConfigError(
      field,
      `${quoted} may cost ${cost} steps, over ${CEL_LIMITS.ruleCost} (each list or map counted at ` +
        `${CEL_LIMITS.collectionSize} elements): a pass over a claim inside a pass over another ` +
        'is refused; iterate over the parts of the element, or over a literal list',
    );
  }
  let evaluate: ReturnType<Environment['parse']>;
  try {
    evaluate = environment.parse(strictSource(parsed.ast, source, MAP_VARIABLES));
    const strictChecked = evaluate.check();
    if (!strictChecked.valid) throw strictChecked.error;
  } catch (error) {
    // The strict form of a valid rule is valid; if it is not, refuse rather than run the lax one.
    throw new ConfigError(field, `${quoted} could not be made type-strict: ${summary(error)}`);
  }
  return (context) => {
    resetMatchBudget();
    resetElementBudget();
    return evaluate(context);
  };
}

/** String literals passed to matches() as the pattern: compiled once, at start-up. */
function literalPatterns(node: ASTNode): string[] {
  const patterns: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (typeof value !== 'object' || value === null || !('op' in value)) return;
    const current = value as ASTNode;
    const pattern =
      current.op === 'rcall' && current.args[0] === RE2_MATCHES
        ? current.args[2][0]
        : current.op === 'call' && current.args[0] === RE2_MATCHES
          ? current.args[1][1]
          : undefined;
    if (pattern?.op === 'value' && typeof pattern.args === 'string') patterns.push(pattern.args);
    if (current.op !== 'value' && current.op !== 'id') visit(current.args);
  };
  visit(node);
  return patterns;
}

/** The expression as quoted in messages; a long one is cut, so that a message stays readable. */
function quote(expression: string): string {
  return JSON.stringify(expression.length > 200 ? `${expression.slice(0, 200)}...` : expression);
}

/** Whether a parsed expression still calls the built-in (non-RE2) matches() anywhere. */
function callsBuiltinMatches(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(callsBuiltinMatches);
  if (typeof node !== 'object' || node === null) return false;
  const { op, args } = node as { op?: unknown; args?: unknown };
  if ((op === 'call' || op === 'rcall') && Array.isArray(args) && args[0] === 'matches') return true;
  return callsBuiltinMatches(args);
}

function summary(error: unknown): string {
  const text =
    (error as { summary?: unknown; message?: unknown } | undefined)?.summary ?? (error as Error)?.message;
  return String(text ?? 'unknown error')
    .split('\n')[0]!
    .replaceAll(RE2_MATCHES, 'matches');
}
