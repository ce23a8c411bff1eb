// Compiled with tsc --strict against the packed package, on @types/koa 3 and 2.
import Koa from 'koa';
import { type Auth, jwtAuth, requireScopes } from 'portcullis/koa';
import type { Equal } from './equal.mjs';

const app = new Koa();
app.use(jwtAuth({ issuer: 'https://issuer.example', jwks: { url: 'https://issuer.example/jwks' } }));
app.use(requireScopes('read'));
app.use((ctx) => {
  // Typed on a plain app.use, without naming a state type.
  const typed: Equal<typeof ctx.state.auth, Auth | undefined> = true;
  ctx.body = { typed, user: ctx.state.auth?.subject };
});
