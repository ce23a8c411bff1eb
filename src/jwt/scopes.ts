import { isScopeToken } from '../identity.js';

/**
 * Scopes from a claim that is either a string or an array of strings. RFC 6749 section 3.3:
 * `scope = scope-token *( SP scope-token )`, so only U+0020 separates scopes in a string; TAB,
 * LF, NBSP, U+2028, U+3000 and every other space do not. Whatever is not a scope-token (a piece
 * holding such a character, an array element holding a space) is dropped, never split or
 * trimmed into something else: `"read\u00a0admin"` grants neither `read` nor `admin`. Empty
 * pieces from leading, trailing or repeated spaces are ignored.
 */
function scopeList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(isScopeToken);
  if (Array.isArray(value)) return value.filter(isScopeToken);
  return [];
}

/**
 * The token's scopes: from `scopeClaim` when configured, else `scope`, else `scp`. Values are
 * the issuer's: `"*"` is the literal scope named "*", not a wildcard.
 */
export function scopesFromClaims(claims: Record<string, unknown>, scopeClaim: string | undefined): string[] {
  if (scopeClaim !== undefined) return scopeList(claims[scopeClaim]);
  return scopeList(claims.scope !== undefined ? claims.scope : claims.scp);
}
