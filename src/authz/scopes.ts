import { ConfigError } from '../errors.js';
import { hasAllScopes, isScopeToken } from '../identity.js';
import { authenticationRequired, insufficientScope, traceStepRefusal } from '../refusals.js';
import type { RequestCheck } from './authorize.js';

/**
 * Every listed scope must be on `auth.scopes` exactly (no prefix or substring matching), or an
 * API-key record must have granted every scope (`scopes: ["*"]`). A `"*"` that came from a
 * token or a custom provider is the literal scope named "*": scope values are the issuer's
 * (RFC 6749 section 3.3), and an issuer that writes `*` does not mean "everything here".
 * No identity: 401 with the challenges of the schemes that ran. An identity that lacks a
 * scope: 403 insufficient_scope with the RFC 6750 challenge naming them.
 */
export function scopeRequirement(scopes: readonly string[]): RequestCheck {
  if (scopes.length === 0) throw new ConfigError('requireScopes', 'needs at least one scope');
  for (const scope of scopes) {
    if (!isScopeToken(scope)) {
      throw new ConfigError(
        'requireScopes',
        `${JSON.stringify(scope)} is not a scope (RFC 6749 scope-token)`,
      );
    }
  }
  const wanted = [...new Set(scopes)];
  return {
    check(host, auth) {
      // `== null`: an app that cleared the identity with null gets the same 401, not a crash.
      if (auth == null)
        return traceStepRefusal(
          host.message,
          'requireScopes',
          authenticationRequired(host.message),
          'no identity',
        );
      // An app may have set the identity itself: anything but a list grants nothing.
      const granted: readonly string[] = Array.isArray(auth.scopes) ? auth.scopes : [];
      if (hasAllScopes(auth) || wanted.every((scope) => granted.includes(scope))) return undefined;
      const lacking = wanted.filter((scope) => !granted.includes(scope));
      return traceStepRefusal(
        host.message,
        'requireScopes',
        insufficientScope(wanted, host.message),
        `lacks ${lacking.map((scope) => `"${scope}"`).join(', ')}`,
      );
    },
  };
}
