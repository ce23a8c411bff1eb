/**
 * The anchors portcullis is measured against, each as its users set it up (devDependencies
 * of the harness only). Keys arrive as a PEM public key, a JWKS URL or an htpasswd path.
 */

import { createPublicKey } from 'node:crypto';
import type Express from 'express';
import type { NextFunction, Request, Response } from 'express';
import basicAuthAnchor from 'express-basic-auth';
import { expressjwt } from 'express-jwt';
import { auth as oauth2Bearer } from 'express-oauth2-jwt-bearer';
import httpAuth from 'http-auth';
import { jwtVerify } from 'jose';
import type Koa from 'koa';
import koaJwt from 'koa-jwt';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { AUDIENCE, BASIC_USER, ISSUER } from './constants.js';

export interface AnchorKeys {
  publicPem: string;
  jwksUrl: string;
  htpasswdPath: string;
}

/** The hand-written jose middleware of the issue: verify, attach, next. */
function handWrittenJose(keys: AnchorKeys) {
  const key = createPublicKey(keys.publicPem);
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) return void res.status(401).end();
    try {
      const { payload } = await jwtVerify(header.slice(7), key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
      });
      (req as Request & { user?: unknown }).user = payload;
      next();
    } catch {
      res.status(401).end();
    }
  };
}

export function expressAnchor(name: string, app: Express.Express, keys: AnchorKeys): void {
  switch (name) {
    case 'jose':
      app.use(handWrittenJose(keys));
      return;
    case 'express-jwt':
      app.use(
        expressjwt({ secret: keys.publicPem, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE }),
      );
      return;
    case 'oauth2-jwt-bearer':
      app.use(
        oauth2Bearer({ issuer: ISSUER, audience: AUDIENCE, jwksUri: keys.jwksUrl, tokenSigningAlg: 'RS256' }),
      );
      return;
    case 'passport-jwt':
      passport.use(
        new JwtStrategy(
          {
            secretOrKey: keys.publicPem,
            jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
            algorithms: ['RS256'],
            issuer: ISSUER,
            audience: AUDIENCE,
          },
          (payload: unknown, done: (error: unknown, user?: unknown) => void) => done(null, payload),
        ),
      );
      app.use(passport.initialize());
      app.use(passport.authenticate('jwt', { session: false }));
      return;
    case 'express-basic-auth':
      // Its users option holds plaintext passwords; that is how its README configures it.
      app.use(basicAuthAnchor({ users: { [BASIC_USER.username]: BASIC_USER.password } }));
      return;
    case 'http-auth': {
      const basic = httpAuth.basic({ realm: 'bench', file: keys.htpasswdPath });
      app.use((req, res, next) => basic.check(() => next())(req, res));
      return;
    }
    default:
      throw new Error(`unknown anchor ${name}`);
  }
}

export function koaAnchor(name: string, app: Koa, keys: AnchorKeys): void {
  if (name !== 'koa-jwt') throw new Error(`unknown anchor ${name}`);
  app.use(koaJwt({ secret: keys.publicPem, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE }));
}
