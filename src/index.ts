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
export { memoryStore } from './store/memory.js';
export { redisStore } from './store/redis.js';
export { replayCache } from './store/replay-cache.js';
