// express-oauth2-jwt-bearer and portcullis in one project: a gradual migration, route by route.
import express from 'express';
import { auth, type AuthResult as VerifyJwtResult } from 'express-oauth2-jwt-bearer';
import { type Auth, authOf, jwtAuth } from 'portcullis/express/coexist';
import type { Equal } from './equal.mjs';

// A gradual migration: old routes on express-oauth2-jwt-bearer, new ones on portcullis.
const app = express();
app.get('/old', auth({ issuerBaseURL: 'https://issuer.example', audience: 'api' }), (req, res) => {
  const theirs: Equal<typeof req.auth, VerifyJwtResult | undefined> = true;
  res.json({ theirs, sub: req.auth?.payload.sub });
});
app.get(
  '/new',
  jwtAuth({ issuer: 'https://issuer.example', jwks: { url: 'https://issuer.example/jwks' } }),
  (req, res) => {
    const ours: Equal<ReturnType<typeof authOf>, Auth | undefined> = true;
    res.json({ ours, sub: authOf(req)?.subject });
  },
);
