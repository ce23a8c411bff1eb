/**
 * The apps of `npm run bench:instructions`, one per row, and the request each row sends. Built
 * from the package as users run it (`dist/`), with the anchors of `bench/anchors.ts`.
 */
import { createPublicKey } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import Koa from 'koa';
import { type AnchorKeys, expressAnchor, koaAnchor } from './anchors.js';
import { APR1_LINE, AUDIENCE, apiKeyOf, BASIC_USER, ISSUER } from './constants.js';

// A computed specifier, as bench/in-process.ts does: `dist/` exists only after a build, and the
// type check of a clean clone must not depend on it.
const built = '../dist';
const forExpress: typeof import('../adapters/express/index.js') = await import(`${built}/express.js`);
const forKoa: typeof import('../adapters/koa/index.js') = await import(`${built}/koa.js`);

/** What the parent hands every child: keys, and the tokens it minted for the row. */
export interface BenchData {
  jwks: string;
  rsaPem: string;
  /** One RS256 and one ES256 token, repeated by the cached rows. */
  rs256: string;
  es256: string;
  /** Distinct RS256 tokens, one per request, for the new-token rows (empty otherwise). */
  distinct: string[];
  jwksUrl: string;
}

export interface RowSpec {
  id: string;
  label: string;
  framework: 'express' | 'koa';
  /** Consumes one distinct token per request. */
  distinct?: boolean;
  /** Costs a signature check per request: smaller windows suffice (and keep the run short). */
  heavy?: boolean;
  /** The row whose cost this one is compared with in the ratio column. */
  anchor?: string;
}

export const ROWS: RowSpec[] = [
  { id: 'express-bare', label: 'Express 5 bare', framework: 'express' },
  { id: 'express-floor', label: 'Express floor: reads one header, sets req.auth', framework: 'express' },
  { id: 'koa-bare', label: 'Koa 3 bare', framework: 'koa' },
  { id: 'koa-floor', label: 'Koa floor: reads one header, sets ctx.state.auth', framework: 'koa' },
  {
    id: 'express-jwt-rs256',
    label: 'Express jwtAuth RS256, one token repeated (cached)',
    framework: 'express',
    anchor: 'express-fastjwt-cached',
  },
  {
    id: 'express-jwt-es256',
    label: 'Express jwtAuth ES256, one token repeated (cached)',
    framework: 'express',
    anchor: 'express-fastjwt-cached',
  },
  {
    id: 'express-fastjwt-cached',
    label: 'Express fast-jwt 6 verifier, cache on, one token repeated',
    framework: 'express',
  },
  {
    id: 'express-jwt-new',
    label: 'Express jwtAuth RS256, a new token every request',
    framework: 'express',
    distinct: true,
    heavy: true,
    anchor: 'express-fastjwt-new',
  },
  {
    id: 'express-fastjwt-new',
    label: 'Express fast-jwt 6 verifier, cache off, a new token every request',
    framework: 'express',
    distinct: true,
    heavy: true,
  },
  {
    id: 'express-anchor-express-jwt',
    label: 'Express express-jwt 8, one token repeated',
    framework: 'express',
    heavy: true,
    anchor: 'express-jwt-rs256',
  },
  {
    id: 'express-anchor-oauth2-jwt-bearer',
    label: 'Express express-oauth2-jwt-bearer 1, one token repeated',
    framework: 'express',
    heavy: true,
    anchor: 'express-jwt-rs256',
  },
  {
    id: 'express-anchor-passport-jwt',
    label: 'Express passport-jwt 4, one token repeated',
    framework: 'express',
    heavy: true,
    anchor: 'express-jwt-rs256',
  },
  {
    id: 'express-apikey-10',
    label: 'Express apiKeyAuth, 10 keys',
    framework: 'express',
    anchor: 'express-jwt-rs256',
  },
  {
    id: 'express-apikey-10000',
    label: 'Express apiKeyAuth, 10,000 keys',
    framework: 'express',
    anchor: 'express-apikey-10',
  },
  {
    id: 'express-basic-apr1',
    label: 'Express basicAuth apr1, remembered credential',
    framework: 'express',
    anchor: 'express-jwt-rs256',
  },
  {
    id: 'express-jwt-authz',
    label: 'Express authorize, 3 rules, after cached jwtAuth RS256',
    framework: 'express',
    anchor: 'express-jwt-rs256',
  },
  {
    id: 'koa-jwt-rs256',
    label: 'Koa jwtAuth RS256, one token repeated (cached)',
    framework: 'koa',
    anchor: 'koa-floor',
  },
  {
    id: 'koa-anchor-koa-jwt',
    label: 'Koa koa-jwt 4, one token repeated',
    framework: 'koa',
    heavy: true,
    anchor: 'koa-jwt-rs256',
  },
];

/** The request handler of a row, and the headers of its i-th request. */
export interface BenchApp {
  handle: (req: unknown, res: unknown) => unknown;
  headers: (i: number) => Record<string, string>;
}

/** Requests run after each window's collection, before its count starts (instructions-child.ts). */
export const PRE_ROLL = 100;

const keyCount = (id: string) => Number(/apikey-(\d+)/.exec(id)?.[1] ?? 10);

function headersOf(row: RowSpec, data: BenchData): (i: number) => Record<string, string> {
  const host = '127.0.0.1';
  if (row.id.includes('-apikey')) {
    const key = apiKeyOf(keyCount(row.id) - 1);
    return () => ({ host, 'x-api-key': key });
  }
  if (row.id.includes('-basic')) {
    const basic = `Basic ${Buffer.from(`${BASIC_USER.username}:${BASIC_USER.password}`).toString('base64')}`;
    return () => ({ host, authorization: basic });
  }
  if (row.distinct) return (i) => ({ host, authorization: `Bearer ${data.distinct[i]}` });
  const bearer = `Bearer ${row.id.includes('es256') ? data.es256 : data.rs256}`;
  return () => ({ host, authorization: bearer });
}

/** fast-jwt as a user wires it into Express: read the header, verify with the JWKS key, set req.auth. */
async function fastJwtMiddleware(data: BenchData, cache: boolean) {
  // Imported only by its rows: the other rows run without it.
  const { createVerifier } = await import('fast-jwt');
  const jwk = JSON.parse(data.jwks).keys.find((key: { kid: string }) => key.kid === 'rsa');
  const key = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  const verify = createVerifier({
    key,
    algorithms: ['RS256'],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    cache,
  });
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) return void res.status(401).end();
    try {
      const payload = verify(header.slice(7)) as { sub?: string };
      (req as unknown as { auth: unknown }).auth = { subject: payload.sub, claims: payload };
      next();
    } catch {
      res.status(401).end();
    }
  };
}

const jwtOptions = (data: BenchData) => ({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: data.jwks },
});
const apiKeyOptions = (id: string) => ({
  // Names of one length: the response echoes the subject, and a longer name would cost the app's
  // JSON more in the 10,000-key row (1k instructions, measured), not the lookup.
  keys: Array.from({ length: keyCount(id) }, (_, i) => ({
    name: `client-${String(i).padStart(5, '0')}`,
    key: apiKeyOf(i),
  })),
  location: { header: { name: 'x-api-key' } },
});
const AUTHORIZE_RULES = {
  rules: [
    'request.method in ["GET", "HEAD"]',
    { require: 'has(jwt.sub)' },
    { deny: 'request.path.startsWith("/admin") && !jwt.groups.contains("admins")' },
  ],
};

/**
 * Builds the row's app. `finished` is called by the app's last handler, so the driver knows when
 * a request that went asynchronous is done without polling.
 */
export async function buildApp(row: RowSpec, data: BenchData, finished: () => void): Promise<BenchApp> {
  const keys: AnchorKeys = { publicPem: data.rsaPem, jwksUrl: data.jwksUrl, htpasswdPath: '' };
  const anchor = /-anchor-(.+)$/.exec(row.id)?.[1];
  const headers = headersOf(row, data);
  if (row.framework === 'express') {
    const app = express();
    if (row.id === 'express-floor') {
      app.use((req, _res, next) => {
        (req as unknown as { auth: unknown }).auth = { subject: req.headers.authorization };
        next();
      });
    }
    if (row.id === 'express-fastjwt-cached') app.use(await fastJwtMiddleware(data, true));
    if (row.id === 'express-fastjwt-new') app.use(await fastJwtMiddleware(data, false));
    if (anchor !== undefined) expressAnchor(anchor, app, keys);
    if (/^express-jwt-(rs256|es256|authz)$/.test(row.id)) app.use(forExpress.jwtAuth(jwtOptions(data)));
    // A cache already full when the count starts: every new token is inserted and evicts the
    // oldest, the steady state of a stream of new tokens (the default 10,000 entries would fill
    // halfway through a run, changing the path mid-row).
    if (row.id === 'express-jwt-new')
      app.use(forExpress.jwtAuth({ ...jwtOptions(data), cache: { maxEntries: 1000 } }));
    if (row.id.includes('-apikey')) app.use(forExpress.apiKeyAuth(apiKeyOptions(row.id)));
    if (row.id.includes('-basic')) app.use(forExpress.basicAuth({ htpasswd: `${APR1_LINE}\n` }));
    if (row.id.includes('-authz')) app.use(forExpress.authorize(AUTHORIZE_RULES));
    app.get('/', (req, res) => {
      res.json({ ok: true, subject: req.auth?.subject ?? null });
      finished();
    });
    return { handle: app as unknown as BenchApp['handle'], headers };
  }
  const app = new Koa();
  if (row.id === 'koa-floor') {
    app.use((ctx, next) => {
      (ctx.state as { auth: unknown }).auth = { subject: ctx.req.headers.authorization };
      return next();
    });
  }
  if (anchor !== undefined) koaAnchor(anchor, app, keys);
  if (row.id === 'koa-jwt-rs256') app.use(forKoa.jwtAuth(jwtOptions(data)));
  app.use((ctx) => {
    ctx.body = { ok: true, subject: ctx.state.auth?.subject ?? null };
    finished();
  });
  return { handle: app.callback() as BenchApp['handle'], headers };
}
