import { atMostOne, keysOf, refuseNonBoolean, refuseUnknownKeys } from '../config/known-keys.js';
import { AuthError, ConfigError } from '../errors.js';
import type { RequestHost } from '../http/request-host.js';
import type { Auth } from '../identity.js';
import { type CompiledExpression, compileExpression } from './cel.js';
import { ruleContext } from './context.js';

/** A CEL rule: a string (= allow), or `{ allow }`, `{ deny }`, `{ require }`. */
export type Rule = string | { allow: string } | { deny: string } | { require: string };

/** Options of `authorize()`. */
export interface AuthorizeOptions {
  rules: readonly Rule[];
  /** Deny when no allow rule allowed, even when there are no allow rules. Default false. */
  defaultDeny?: boolean;
  /** Hand refusals to the app's error handling (`next(err)` / throw). Default false. */
  delegateErrors?: boolean;
}

/** A step that runs after authentication: refuses with an AuthError, or lets the request on. */
export interface RequestCheck {
  check(host: RequestHost, auth: Auth | undefined): AuthError | undefined;
}

const AUTHORIZE_KEYS = keysOf<AuthorizeOptions>()(
  'authorize',
  { rules: true, defaultDeny: true, delegateErrors: true },
  {
    rule: 'rules',
    policies: 'rules',
    policy: 'rules',
    allow: { say: 'a rule goes in `rules`: rules: [{ allow: "..." }]' },
    deny: { say: 'a rule goes in `rules`: rules: [{ deny: "..." }]' },
    require: { say: 'a rule goes in `rules`: rules: [{ require: "..." }]' },
  },
);

const RULE_FORM = 'a rule is a CEL string or exactly one of { allow }, { deny }, { require }';
const RULE_KEYS = keysOf<Exclude<Rule, string>>()(
  'a rule',
  { allow: true, deny: true, require: true },
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
);

type Kind = 'allow' | 'deny' | 'require';

function compileRule(rule: Rule, index: number): { kind: Kind; evaluate: CompiledExpression } {
  const field = `rules[${index}]`;
  if (typeof rule === 'string') return { kind: 'allow', evaluate: compileExpression(rule, field) };
  refuseUnknownKeys(rule, RULE_KEYS, field);
  const kind = atMostOne(rule, ['allow', 'deny', 'require'], field, 'one rule has one kind: write two rules');
  if (kind === undefined) throw new ConfigError(field, `must be ${RULE_FORM.slice('a rule is '.length)}`);
  return { kind, evaluate: compileExpression((rule as Record<Kind, string>)[kind], `${field}.${kind}`) };
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
 * error never grants access: any deny true (or erring) -> 403; any require not true -> 403;
 * any allow true -> pass; otherwise 403 if there are allow rules (or `defaultDeny`), else pass.
 */
export function authorizer(options: AuthorizeOptions): RequestCheck {
  refuseUnknownKeys(options, AUTHORIZE_KEYS, '');
  refuseNonBoolean(options.defaultDeny, 'defaultDeny');
  refuseNonBoolean(options.delegateErrors, 'delegateErrors');
  if (!Array.isArray(options.rules)) {
    throw new ConfigError('rules', 'must be an array of CEL rules');
  }
  const compiled = options.rules.map(compileRule);
  const denies = compiled.filter((rule) => rule.kind === 'deny');
  const requires = compiled.filter((rule) => rule.kind === 'require');
  const allows = compiled.filter((rule) => rule.kind === 'allow');
  const closedByDefault = allows.length > 0 || options.defaultDeny === true;
  const denied = () => new AuthError(403, 'access_denied', 'Access to this resource is denied by policy');
  return {
    check(host, auth) {
      const context = ruleContext(host, auth);
      for (const rule of denies) if (truth(rule.evaluate, context) !== false) return denied();
      for (const rule of requires) if (truth(rule.evaluate, context) !== true) return denied();
      for (const rule of allows) if (truth(rule.evaluate, context) === true) return undefined;
      return closedByDefault ? denied() : undefined;
    },
  };
}
