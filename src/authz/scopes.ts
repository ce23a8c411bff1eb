import { AuthError, ConfigError } from '../errors.js';
import type { RequestCheck } from './authorize.js';

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Every listed scope must be on `auth.scopes` exactly (no prefix or substring matching);
 * `"*"` grants all. Refusal: 403 insufficient_scope with the RFC 6750 challenge naming them.
 */
export function scopeRequirement(scopes: readonly string[]): RequestCheck {
  if (scopes.length === 0) throw new ConfigError('requireScopes', 'needs at least one scope');
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
      throw new ConfigError(
        'requireScopes',
        `${JSON.stringify(scope)} is not a scope (RFC 6749 scope-token)`,
      );
    }
  }
  const wanted = [...new Set(scopes)];
  const challenge = `Bearer error="insufficient_scope", scope="${wanted.join(' ')}"`;
  return {
    check(_host, auth) {
      const granted = auth?.scopes ?? [];
      if (granted.includes('*') || wanted.every((scope) => granted.includes(scope))) return undefined;
      return new AuthError(
        403,
        'insufficient_scope',
        `This request needs the scope(s): ${wanted.join(' ')}`,
        {
          'www-authenticate': challenge,
        },
      );
    },
  };
}
