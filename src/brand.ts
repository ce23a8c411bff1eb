// The ESM and CommonJS builds (and every bundle that inlines portcullis) each define their own
// classes: an app that `require`s one build and `import`s the other, or hands a value made by one
// copy to a middleware of another, would see `instanceof` fail. So the classes users meet
// (AuthError, ConfigError, AuthResult) carry a brand registered under a global symbol, which
// every copy shares, and `instanceof` checks it.

/** Marks every instance of `target` (on its prototype: not enumerable, not in util.inspect). */
export function brand(target: { prototype: object }, symbol: symbol): void {
  Object.defineProperty(target.prototype, symbol, { value: true });
}

/** `instanceof` for a branded class: the brand for the class itself, the prototype chain for subclasses. */
export function isBranded(target: object, own: object, symbol: symbol, value: unknown): boolean {
  if (target !== own) return Function.prototype[Symbol.hasInstance].call(target, value);
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[symbol] === true;
}
