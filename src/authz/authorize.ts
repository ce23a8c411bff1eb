import {
  atMostOneOf,
  flag,
  lockedTo,
  narrowed,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  z,
} from '../config/schema.js';
import { type AuthError, ConfigError } from '../errors.js';
import type { RequestHost } from '../http/request-host.js';
import type { Auth } from '../identity.js';
import { accessDenied, authenticationRequired, traceStepRefusal } from '../refusals.js';
import { type CompiledExpression, compileExpression } from './cel.js';
import { ruleContext } from './context.js';
import { addReads, checkReads, nonCanonicalPathLiteral, noReads } from './request-reads.js';

/** A CEL rule: a string (= allow), or `{ allow }`, `{ deny }`, `{ require }`. */
export type Rule = string | { allow: string } | { deny: string } | { require: string };

const RULE_FORM = 'a rule is a CEL string or exactly one of { allow }, { deny }, { require }';
const RULE_FORMS = ['allow', 'deny', 'require'] as const;
// Compiled (and so fully checked) by compileExpression, whose messages say what is wrong inside.
const celText = () => z.string({ error: 'must be a CEL expression (a non-empty string)' });

/** The schema of a {@link Rule}: a CEL string, or an object of exactly one kind. */
const RULE = z.union(
  [
    celText(),
    narrowed<Exclude<Rule, string>>()(
      refined(
        optionsObject(
          'a rule',
          { allow: celText().optional(), deny: celText().optional(), require: celText().optional() },
          {
            permit: 'allow',
            forbid: 'deny',
            reject: 'deny',
            when: { say: RULE_FORM },
            if: { say: RULE_FORM },
            cel: { say: RULE_FORM },
            expr: { say: RULE_FORM },
            expression: { say: RULE_FORM },
            condition: { say: RULE_FORM },
            rule: { say: RULE_FORM },
          },
        ),
        (rule, ctx) => {
          atMostOneOf<typeof rule>(RULE_FORMS, 'one rule has one kind: write two rules')(rule, ctx);
          if (RULE_FORMS.every((kind) => rule[kind] === undefined))
            refuse(ctx, `must be ${RULE_FORM.slice('a rule is '.length)}`);
        },
      ),
    ),
  ],
  { error: `must be a CEL string or exactly one of { allow }, { deny }, { require }` },
);

/** The schema of {@link AuthorizeOptions}. */
export const AUTHORIZE_OPTIONS = optionsObject(
  'authorize',
  {
    rules: z.array(RULE, { error: 'must be an array of CEL rules' }).readonly(),
    defaultDeny: flag().optional(),
    delegateErrors: flag().optional(),
  },
  {
    rule: 'rules',
    policies: 'rules',
    policy: 'rules',
    allow: { say: 'a rule goes in `rules`: rules: [{ allow: "..." }]' },
    deny: { say: 'a rule goes in `rules`: rules: [{ deny: "..." }]' },
    require: { say: 'a rule goes in `rules`: rules: [{ require: "..." }]' },
  },
);

/** Options of `authorize()`. */
export interface AuthorizeOptions {
  rules: readonly Rule[];
  /** Deny when no allow rule allowed, even when there are no allow rules. Default false. */
  defaultDeny?: boolean;
  /** Hand refusals to the app's error handling (`next(err)` / throw). Default false. */
  delegateErrors?: boolean;
}

lockedTo<AuthorizeOptions, z.output<typeof AUTHORIZE_OPTIONS>>(true);

/** A step that runs after authentication: refuses with an AuthError, or lets the request on. */
export interface RequestCheck {
  check(host: RequestHost, auth: Auth | undefined): AuthError | undefined;
}

type Kind = 'allow' | 'deny' | 'require';

interface CompiledRule {
  kind: Kind;
  source: string;
  evaluate: CompiledExpression;
}

/** A rule comparing request.path with a path no request can have would silently never match. */
function checkPathLiterals(source: string, field: string): void {
  const literal = nonCanonicalPathLiteral(source);
  if (literal === undefined) return;
  throw new ConfigError(
    field,
    `compares request.path with ${JSON.stringify(literal)}, which no request path can be (request.path is canonical: no "//", "." or ".." segments, no ";", "\\", encoded "/", "%" or unreserved characters, hex in upper case; see the README)`,
  );
}

/** Compiles a rule the schema has checked: a string, or an object of exactly one kind. */
function compileRule(rule: Rule, index: number): CompiledRule {
  const field = `rules[${index}]`;
  if (typeof rule === 'string') {
    const evaluate = compileExpression(rule, field);
    checkPathLiterals(rule, field);
    return { kind: 'allow', source: rule, evaluate };
  }
  const kind = RULE_FORMS.find((form) => (rule as Partial<Record<Kind, string>>)[form] !== undefined)!;
  const source = (rule as Record<Kind, string>)[kind];
  const evaluate = compileExpression(source, `${field}.${kind}`);
  checkPathLiterals(source, `${field}.${kind}`);
  return { kind, source, evaluate };
}

/** true only for a boolean true; anything else, or an evaluation error, is undefined. */
function truth(evaluate: CompiledExpression, context: ReturnType<typeof ruleContext>): boolean | undefined {
  try {
    const value = evaluate(context);
    return typeof value === 'boolean' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CEL rules over the request and the identity, decided as agentgateway does, except that an
 * error never grants access: any deny true (or erring) -> refuse; any require not true ->
 * refuse; any allow true -> pass; otherwise refuse if there are allow rules (or `defaultDeny`),
 * else pass. A refusal is 403 access_denied for an identity, and 401 with the challenges of the
 * schemes that ran (RFC 6750 section 3.1) when the request carries no identity: nobody was
 * identified, so the client is asked to authenticate. A pass stays a pass either way: rules
 * that read only the request (`request.path.startsWith("/public")`) can admit anonymous requests.
 */
export function authorizer(given: AuthorizeOptions): RequestCheck {
  const options = parseOptions(AUTHORIZE_OPTIONS, given);
  const compiled = options.rules.map(compileRule);
  const denies = compiled.filter((rule) => rule.kind === 'deny');
  const requires = compiled.filter((rule) => rule.kind === 'require');
  const allows = compiled.filter((rule) => rule.kind === 'allow');
  const closedByDefault = allows.length > 0 || options.defaultDeny === true;
  const reads = noReads();
  for (const rule of compiled) addReads(reads, rule.source);
  const refused = (host: RequestHost, auth: Auth | undefined, reason: string) =>
    traceStepRefusal(
      host.message,
      'authorize',
      auth === undefined ? authenticationRequired(host.message) : accessDenied(),
      auth === undefined ? `no identity; ${reason}` : reason,
    );
  // The debug log names a rule by its place in `rules`, never by what it reads.
  const named = (rule: CompiledRule) => `rules[${compiled.indexOf(rule)}] (${rule.kind})`;
  return {
    check(host, given) {
      // What the rules read must have one reading (one path, one copy of each parameter and
      // header they look at) before any rule runs, or a deny could look at another copy.
      const ambiguous = checkReads(reads, host);
      if (ambiguous !== undefined)
        return traceStepRefusal(host.message, 'authorize', ambiguous, 'a value the rules read is ambiguous');
      // An app that cleared the identity with null means "no identity", as undefined does.
      const auth = given ?? undefined;
      const context = ruleContext(host, auth, reads);
      for (const rule of denies) {
        if (truth(rule.evaluate, context) !== false)
          return refused(host, auth, `${named(rule)} was true or failed`);
      }
      for (const rule of requires) {
        if (truth(rule.evaluate, context) !== true) return refused(host, auth, `${named(rule)} was not true`);
      }
      for (const rule of allows) if (truth(rule.evaluate, context) === true) return undefined;
      return closedByDefault ? refused(host, auth, 'no allow rule was true') : undefined;
    },
  };
}
