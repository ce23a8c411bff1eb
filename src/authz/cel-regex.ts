import { RE2JS } from '@bufbuild/re2';
import { CEL_LIMITS } from './cel-limits.js';
import { RuleInputError } from './cel-strict.js';

// CEL's matches() is specified as RE2: linear in the text, no backreferences or lookaround.
// Linear is not cheap: compiling takes time that grows with the pattern (a 2 KB pattern takes
// a large fraction of a second) and a match does work per character and per program
// instruction. So what one call may cost is bounded:
// - patterns written in the rules are compiled once at start-up and kept in their own map,
//   which requests cannot add to or evict from;
// - a pattern that reaches matches() at run time (from a header, a claim) is at most
//   dynamicPatternLength characters and has no counted repetition (`a{1000}` multiplies the
//   program), and sits in a small least-recently-used cache of its own;
// - the matches() calls of one evaluation may together scan at most matchSteps (text length
//   times program size), so that a macro cannot multiply the calls: over it, a call errs
//   instead of running.
// An error makes the rule fail closed.

const literal = new Map<string, RE2JS>();
const dynamic = new Map<string, RE2JS>();

/** Compiles a pattern written in a rule; throws (RE2's error) when RE2 rejects it. */
export function compileLiteralPattern(pattern: string): void {
  if (!literal.has(pattern)) literal.set(pattern, RE2JS.compile(pattern));
}

function dynamicPattern(pattern: string): RE2JS {
  const cached = dynamic.get(pattern);
  if (cached !== undefined) {
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    dynamic.delete(pattern);
    dynamic.set(pattern, cached);
    return cached;
  }
  if (pattern.length > CEL_LIMITS.dynamicPatternLength) {
    throw new RuleInputError(`a matches() pattern longer than ${CEL_LIMITS.dynamicPatternLength}`);
  }
  // Conservative: any `{` followed by a digit, even an escaped literal brace, is refused.
  if (/\{\s*\d/.test(pattern)) throw new RuleInputError('a matches() pattern with counted repetition');
  const compiled = RE2JS.compile(pattern);
  if (dynamic.size >= CEL_LIMITS.dynamicPatternCache) dynamic.delete(dynamic.keys().next().value!);
  dynamic.set(pattern, compiled);
  return compiled;
}

/** What the matches() calls of the current evaluation may still scan (evaluation is sync). */
let matchBudget: number = CEL_LIMITS.matchSteps;

/** Called before each evaluation of a rule. */
export function resetMatchBudget(): void {
  matchBudget = CEL_LIMITS.matchSteps;
}

/** CEL `text.matches(pattern)` (a search, as RE2's PartialMatch), within the limits above. */
export function re2Matches(text: string, pattern: string): boolean {
  const compiled = literal.get(pattern) ?? dynamicPattern(pattern);
  matchBudget -= Math.max(text.length, 1) * compiled.re2Input.prog.numInst();
  if (matchBudget < 0) throw new RuleInputError('matches() over its budget for one evaluation');
  return compiled.test(text);
}
