import { AuthError } from '../errors.js';

/**
 * Refusals of a request that cannot be decided on without guessing which reading the app will
 * use: 400 `invalid_request`, as for a credential sent twice. Fixed sentences, no request text.
 */
export function ambiguousPathError(): AuthError {
  return new AuthError(400, 'invalid_request', 'The request path is ambiguous or malformed');
}

/** A query parameter a rule reads was sent more than once, or in a bracket form (`name[]`). */
export function repeatedQueryError(): AuthError {
  return new AuthError(400, 'invalid_request', 'A query parameter the policy reads was sent more than once');
}

/** A header a rule reads was sent more than once (or also under another spelling, `x_team`). */
export function repeatedHeaderError(): AuthError {
  return new AuthError(400, 'invalid_request', 'A header the policy reads was sent more than once');
}

/** An absolute-form target names another host than the Host header a rule reads. */
export function ambiguousHostError(): AuthError {
  return new AuthError(400, 'invalid_request', 'The request target and the Host header name different hosts');
}
