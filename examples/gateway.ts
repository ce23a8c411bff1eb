/**
 * `npm start`: the portcullis demo gateway. An embedded issuer, an echo upstream, and an
 * Express and a Koa gateway in front of it, all on 127.0.0.1. Set DEMO_PORT to move the
 * block of four ports (default 8080: Express 8080, Koa 8081, issuer 8082, upstream 8083).
 */
import { startDemo } from './demo.js';

const base = Number(process.env.DEMO_PORT ?? 8080);
const demo = await startDemo({ express: base, koa: base + 1, issuer: base + 2, upstream: base + 3 });

console.log(`portcullis demo
  Express gateway  ${demo.urls.express}
  Koa gateway      ${demo.urls.koa}
  issuer (OIDC)    ${demo.issuer.url}
  echo upstream    ${demo.urls.upstream}

A token from the embedded issuer (valid for one hour) and the demo API key:

TOKEN=${demo.token}
API_KEY=${demo.credentials.apiKey}
# the echo upstream's own key, which backendAuth adds on /api (never the client's token)
UPSTREAM_KEY=${demo.credentials.upstreamKey}
ADMIN_TOKEN=${demo.adminToken}

Basic users: ${demo.credentials.basicUser.username} / ${demo.credentials.basicUser.password} (bcrypt), user / password (apr1).

Then try (the last line of each block shows the 401 without a token):

${demo.curls().join('\n')}

Ctrl-C stops the demo.`);

const stop = () => {
  void demo.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
