// Compiled with tsc --strict against the packed package, on @types/express 5 and 4.
import express, { type RequestHandler, Router } from 'express';
import { type Auth, type AuthMethod, jwtAuth, requireScopes } from 'portcullis/express';
import type { ParsedQs } from 'qs';
import type { Equal } from './equal.mjs';

// Declared once for the project: the module the app imports, or 'portcullis'.
declare module 'portcullis/express' {
  interface JwtClaims {
    email?: string;
  }
}

const jwt = jwtAuth({ issuer: 'https://issuer.example', jwks: { url: 'https://issuer.example/jwks' } });
const app = express();
app.get('/x', jwt, (req, res) => {
  // An inline portcullis middleware leaves Express's own query type to the next handler.
  const same: Equal<typeof req.query, ParsedQs> = true;
  const q: string | undefined = req.query.q as string | undefined;
  res.json({ same, q });
});
const router = Router();
router.get('/y', jwt, requireScopes('read', { delegateErrors: true }), (req, res) => {
  const same: Equal<typeof req.query, ParsedQs> = true;
  // Declared claims are typed without a cast; claims are read-only.
  const email = req.auth?.jwt?.email;
  const exactly: Equal<typeof email, string | undefined> = true;
  const claims = req.auth?.jwt;
  // @ts-expect-error frozen claims are read-only
  if (claims) claims.email = 'changed';
  res.json({ same, exactly, email });
});
app.use('/r', router);
app.use(jwt);
// Assignable to Express's own handler type, whatever its generics.
export const handler: RequestHandler = jwt;
export const typedHandler: RequestHandler<{ id: string }, { ok: boolean }, { name: string }> = jwt;
export const method: Equal<Auth['method'], 'jwt' | 'basic' | 'apiKey' | (string & {}) | undefined> = true;
export const named: AuthMethod = 'my-scheme';
