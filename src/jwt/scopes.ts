/** Scopes from a claim that is either a space-separated string or an array of strings. */
function scopeList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter((scope) => scope !== '');
  if (Array.isArray(value))
    return value.filter((scope): scope is string => typeof scope === 'string' && scope !== '');
  return [];
}

/** The token's scopes: from `scopeClaim` when configured, else `scope`, else `scp`. */
export function scopesFromClaims(claims: Record<string, unknown>, scopeClaim: string | undefined): string[] {
  if (scopeClaim !== undefined) return scopeList(claims[scopeClaim]);
  return scopeList(claims.scope !== undefined ? claims.scope : claims.scp);
}
