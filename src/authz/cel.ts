import { RE2JS } from '@bufbuild/re2';
import { Environment } from '@marcbachmann/cel-js';
import { ConfigError } from '../errors.js';

/**
 * The variables every rule may use (`claims`: what a customAuth provider granted); a variable
 * whose scheme did not run is simply absent.
 */
export const RULE_VARIABLES = ['request', 'jwt', 'basicAuth', 'apiKey', 'auth', 'claims'] as const;

export type RuleContext = Partial<Record<(typeof RULE_VARIABLES)[number], unknown>>;

/** A rule compiled once at start-up. */
export type CompiledExpression = (context: RuleContext) => unknown;

// CEL's matches() is specified as RE2: linear time, no backreferences or lookaround. The
// library's built-in uses JavaScript's backtracking RegExp, where a hostile input can take
// exponential time, and it cannot be overridden. So rules are compiled with every call to
// matches() renamed to re2Matches(), which runs RE2 (@bufbuild/re2). The rename happens on
// the source outside string literals only.
const RE2_MATCHES = 're2Matches';
const regexCache = new Map<string, RE2JS>();

function re2(pattern: string): RE2JS {
  let compiled = regexCache.get(pattern);
  if (compiled === undefined) {
    compiled = RE2JS.compile(pattern);
    // Patterns usually come from the rules themselves: a small cache is enough, and it is
    // bounded so patterns taken from requests cannot grow it.
    if (regexCache.size < 256) regexCache.set(pattern, compiled);
  }
  return compiled;
}

function makeEnvironment(): Environment {
  const env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false });
  for (const name of RULE_VARIABLES) env.registerVariable(name, 'dyn');
  // agentgateway's docs write `jwt.groups.contains("admins")`; standard CEL has no
  // list.contains, so it is registered here (string.contains stays as it is).
  env.registerFunction('list.contains(dyn): bool', (list: unknown[], item: unknown) =>
    list.some((x) => x === item),
  );
  env.registerFunction(`string.${RE2_MATCHES}(string): bool`, (text: string, pattern: string) =>
    re2(pattern).test(text),
  );
  env.registerFunction(`${RE2_MATCHES}(string, string): bool`, (text: string, pattern: string) =>
    re2(pattern).test(text),
  );
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

/** String literals passed to matches(): checked as RE2 at start-up. */
function literalPatterns(source: string): string[] {
  const patterns: string[] = [];
  const call = /re2Matches\(\s*(?:[^,()]+,\s*)?("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\)/g;
  for (const match of source.matchAll(call)) {
    try {
      patterns.push(
        JSON.parse(
          match[1]!.startsWith("'") ? `"${match[1]!.slice(1, -1).replace(/"/g, '\\"')}"` : match[1]!,
        ),
      );
    } catch {
      // A literal JSON cannot read (a CEL-only escape): RE2 checks it on first use instead.
    }
  }
  return patterns;
}

/**
 * Parses and type-checks one expression. A syntax error, an unknown function or an invalid
 * RE2 pattern throws a ConfigError naming `field` and quoting the expression.
 */
export function compileExpression(expression: unknown, field: string): CompiledExpression {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new ConfigError(field, 'must be a CEL expression (a non-empty string)');
  }
  const source = useRe2(expression);
  let evaluate: ReturnType<Environment['parse']>;
  try {
    evaluate = environment.parse(source);
  } catch (error) {
    throw new ConfigError(field, `${JSON.stringify(expression)} does not parse: ${summary(error)}`);
  }
  // Belt and braces: should the rename above ever miss a call, refuse the rule rather than let
  // the library's backtracking matches() run.
  if (callsBuiltinMatches(evaluate.ast)) {
    throw new ConfigError(field, `${JSON.stringify(expression)}: a matches() call could not be made RE2`);
  }
  const checked = environment.check(source);
  if (!checked.valid) {
    throw new ConfigError(field, `${JSON.stringify(expression)} is not valid: ${summary(checked.error)}`);
  }
  for (const pattern of literalPatterns(source)) {
    try {
      RE2JS.compile(pattern);
    } catch {
      throw new ConfigError(
        field,
        `${JSON.stringify(expression)}: ${JSON.stringify(pattern)} is not an RE2 pattern`,
      );
    }
  }
  return (context) => evaluate(context);
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
