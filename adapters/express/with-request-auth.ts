/**
 * portcullis for Express 4 and 5: each inbound factory returns `(req, res, next)` middleware
 * with a `close()` for the timers and watchers it holds. The identity is on `req.auth`, typed
 * by the declaration below (`portcullis/express/coexist` is the same module without it).
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { jwtAuth } from 'portcullis/express';
 *
 * const app = express();
 * app.use(jwtAuth({ issuer: 'https://id.example.com', audiences: ['api'] }));
 * app.get('/me', (req, res) => res.json({ user: req.auth?.subject }));
 * ```
 * @packageDocumentation
 */
import type { Auth } from '../../src/identity.js';

export * from './index.js';

declare global {
  namespace Express {
    interface Request {
      /**
       * What portcullis authenticated. Declared by `portcullis/express`; a project where
       * another library declares `req.auth` imports `portcullis/express/coexist` and reads
       * `authOf(req)` instead.
       */
      auth?: Auth;
    }
  }
}
