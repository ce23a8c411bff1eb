/**
 * `npm start`: the portcullis demo gateway. An embedded issuer, an echo upstream, and an
 * Express and a Koa gateway in front of it, all on 127.0.0.1, in this one process. Set
 * DEMO_PORT to move the block of ports (default 8080: Express 8080, Koa 8081, issuer 8082,
 * upstream 8083, the Redis instances 8084 and 8085 (with REDIS_URL), the MCP routes' OAuth
 * authorization server 8086); DEMO_PORT=0 takes free ones.
 *
 * Both gateways serve an MCP server (official SDK) at /mcp behind mcpAuth, whose tokens come from
 * the embedded authorization server: `npx tsx examples/mcp-client.ts <gateway>/mcp` runs the SDK
 * client's whole OAuth flow against it.
 *
 * With REDIS_URL set (`REDIS_URL=redis://127.0.0.1:6379 npm start`), two more gateway
 * instances (8084: A, Express; 8085: B, Koa) share their API keys through that Redis, and the
 * demo prints a curl pair: a key revoked through A, then refused by B. Without it, no Redis is
 * needed (nor loaded).
 *
 * `npm start` runs `exec node --import tsx` (package.json), not the `tsx` command: that
 * wrapper outlived a killed npm and its child went on holding the ports. With `exec` this
 * process replaces npm's shell, so npm is its parent: the SIGINT and SIGTERM npm forwards reach
 * it, and when npm dies of anything else (SIGKILL, SIGHUP) this process, re-parented, stops
 * (below). (On Windows, where npm's shell has no `exec`: `npx tsx examples/gateway.ts`.)
 */
import { startDemo } from './demo.js';

const base = Number(process.env.DEMO_PORT ?? 8080);
const port = (offset: number) => (base === 0 ? 0 : base + offset);
// Each refusal's reason (never a credential) is printed, as a logger with `debug` receives it.
const logger = {
  warn: (message: string) => console.warn(`[portcullis] ${message}`),
  debug: (message: string) => console.warn(`[portcullis debug] ${message}`),
};
// An empty REDIS_URL counts as unset.
const redisUrl = process.env.REDIS_URL || undefined;
const demo = await startDemo(
  {
    express: port(0),
    koa: port(1),
    issuer: port(2),
    upstream: port(3),
    instanceA: port(4),
    instanceB: port(5),
    authorizationServer: port(6),
  },
  { logger, ...(redisUrl === undefined ? {} : { redisUrl }) },
);
const shared =
  demo.shared === undefined
    ? ''
    : `
Two more instances share their API keys through Redis (REDIS_URL, key prefix ${demo.shared.prefix}):
  instance A (Express)  ${demo.shared.urls.a}
  instance B (Koa)      ${demo.shared.urls.b}

${demo.shared.curls().join('\n')}
`;

console.log(`portcullis demo
  Express gateway  ${demo.urls.express}
  Koa gateway      ${demo.urls.koa}
  issuer (OIDC)    ${demo.issuer.url}
  echo upstream    ${demo.urls.upstream}
  MCP authorization server (OAuth 2.1, oidc-provider)  ${demo.authorizationServer.issuer}

A token from the embedded issuer (valid for one hour) and the demo API key:

TOKEN=${demo.token}
API_KEY=${demo.credentials.apiKey}
# the echo upstream's own key, which backendAuth adds on /api (never the client's token)
UPSTREAM_KEY=${demo.credentials.upstreamKey}
ADMIN_TOKEN=${demo.adminToken}

Basic users: ${demo.credentials.basicUser.username} / ${demo.credentials.basicUser.password} (bcrypt), user / password (apr1).

Then try (the last line of each block shows the 401 without a token; each refusal's reason is
printed below as a [portcullis debug] line):

${demo.curls().join('\n')}

MCP (the official SDK's server at /mcp on both gateways, behind mcpAuth; tools: echo needs
mcp:tools, deploy needs deploy too). The metadata a client discovers, the 401 it starts from, and
the SDK client's whole flow (discovery, registration, PKCE, auto-approved login, echo, then the
403 insufficient_scope step-up for deploy):

${demo.mcpCommands().join('\n')}
${shared}
Ctrl-C stops the demo.`);

let stopping = false;
const stop = () => {
  // A second signal while closing (an impatient Ctrl-C) exits at once.
  if (stopping) process.exit(1);
  stopping = true;
  // Closing waits for nothing a client controls (connections are cut), but never hang on it.
  setTimeout(() => process.exit(1), 5000).unref();
  void demo.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);

// The parent's death: npm forwards SIGINT and SIGTERM only, and nothing when it is killed with
// SIGKILL or dies of a SIGHUP; this process is then re-parented. Its parent id is checked
// every half second (unref: the check alone never keeps the process alive).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 500).unref();
// Started with an IPC channel (child_process.fork): its closing is the parent's death too.
process.on('disconnect', stop);
