/**
 * What one CEL rule may cost, whatever the request or the token carries. Each number is stated
 * in the README (authorize, "Limits"); a rule over a limit at start-up is a ConfigError, an
 * input over a limit at run time makes the rule err, and an erring rule fails closed.
 */
export const CEL_LIMITS = {
  /** Characters of one expression's source. */
  sourceLength: 4096,
  /** Nodes of one parsed expression. */
  astNodes: 1000,
  /**
   * Elements of a list or entries of a map that a rule iterates, searches or compares at run
   * time. Claims are the issuer's: without this, a 64 KB token carries lists that make one
   * rule cost millions of steps.
   */
  collectionSize: 1000,
  /**
   * Elements (and map entries) one evaluation may visit in all, across every iteration, search
   * and comparison: what bounds a macro nested over the parts of its element.
   */
  evaluationElements: 10_000,
  /**
   * Steps one rule may cost in the worst case, estimated at start-up with every collection at
   * `collectionSize`. One pass over a claim list fits; a pass over a claim list inside a pass
   * over another (collectionSize squared) does not.
   */
  ruleCost: 100_000,
  /** Characters of a matches() pattern that is not a string literal of the rule. */
  dynamicPatternLength: 128,
  /** Compiled patterns taken from requests or claims kept for reuse (least recently used out). */
  dynamicPatternCache: 64,
  /**
   * The matches() calls of one evaluation together: text length x RE2 program size. RE2's
   * automaton is linear in the text but does work per program instruction.
   */
  matchSteps: 1_000_000,
} as const;
