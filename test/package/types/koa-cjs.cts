// The CommonJS declarations of portcullis/koa (a .cts file resolves the `require` condition).
import Koa = require('koa');
import portcullis = require('portcullis/koa');

const app = new Koa();
app.use(portcullis.jwtAuth({ issuer: 'https://issuer.example', jwks: { file: 'keys.json' } }));
app.use((ctx) => {
  const subject: string | undefined = ctx.state.auth?.subject;
  ctx.body = subject;
});
