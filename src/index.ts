/**
 * portcullis core: what needs no framework. Most apps import an adapter instead,
 * `portcullis/express` or `portcullis/koa`, which export the middleware factories, the same
 * errors and every type below.
 *
 * @packageDocumentation
 */

export { backendCredentials } from './backend/backend-auth.js';
export { forwardableHeaders } from './backend/forwarded.js';
export { AuthResult } from './custom/auth-result.js';
export { AuthError, ConfigError } from './errors.js';
export * from './public-types.js';
