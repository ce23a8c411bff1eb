// module: commonjs, whose default moduleResolution is node10: found through typesVersions.
import express = require('express');
import Koa = require('koa');

import { AuthError, type JwtClaims } from 'portcullis';
import { jwtAuth } from 'portcullis/express';
import { authOf } from 'portcullis/express/coexist';
import { jwtAuth as koaJwt } from 'portcullis/koa';

declare module 'portcullis' {
  interface JwtClaims {
    tenant?: string;
  }
}

const app = express();
app.get(
  '/me',
  jwtAuth({ issuer: 'https://issuer.example', jwks: { url: 'https://issuer.example/jwks' } }),
  (req, res) => {
    const tenant: string | undefined = req.auth?.jwt?.tenant;
    res.json({ tenant, same: authOf(req) === req.auth, q: req.query.q });
  },
);
const koa = new Koa();
koa.use(koaJwt({ issuer: 'https://issuer.example', jwks: { url: 'https://issuer.example/jwks' } }));
koa.use((ctx) => {
  const subject: string | undefined = ctx.state.auth?.subject;
  ctx.body = subject;
});
export const claims: JwtClaims = {};
export const refusal = (error: unknown) => error instanceof AuthError;
