import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listenOnLoopback } from './loopback.js';

/** One token exchange (RFC 8693) as the fake received it. */
export interface ExchangeCall {
  contentType: string | undefined;
  form: URLSearchParams;
}

/** One IAM Credentials generateAccessToken call. */
export interface GenerateCall {
  serviceAccount: string;
  authorization: string | undefined;
  body: { delegates?: unknown; scope?: unknown; lifetime?: unknown };
}

export interface FakeGoogleSts {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The `token_url` of an external_account file: `<url>/v1/token`. */
  tokenUrl: string;
  /** The `service_account_impersonation_url` for `serviceAccount`. */
  impersonationUrl(serviceAccount: string): string;
  /** Token exchanges received, in order. */
  exchanges: ExchangeCall[];
  /** generateAccessToken calls received, in order. */
  generated: GenerateCall[];
  /** Federated access tokens issued by the exchange, in order. */
  federatedTokens: string[];
  /** Service account access tokens issued by generateAccessToken, in order. */
  impersonatedTokens: string[];
  /** Requests to any other path. */
  strays: string[];
  /** Refuse the next exchanges with this OAuth error (HTTP 400), until cleared. */
  refuseWith?: string;
  /** Answers wait for this first (to let concurrent callers pile up). */
  gate?: Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const GENERATE = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/;

/**
 * A fake Google Security Token Service (`sts.googleapis.com/v1/token`: exchanges an external
 * subject token for a federated access token) and IAM Credentials API (`generateAccessToken`,
 * which only accepts a federated token this fake issued).
 */
export async function startFakeGoogleSts(): Promise<FakeGoogleSts> {
  const fake: FakeGoogleSts = {
    url: '',
    tokenUrl: '',
    impersonationUrl: (serviceAccount) =>
      `${fake.url}/v1/projects/-/serviceAccounts/${serviceAccount}:generateAccessToken`,
    exchanges: [],
    generated: [],
    federatedTokens: [],
    impersonatedTokens: [],
    strays: [],
    reset() {
      fake.exchanges.length = 0;
      fake.generated.length = 0;
      fake.federatedTokens.length = 0;
      fake.impersonatedTokens.length = 0;
      fake.strays.length = 0;
      fake.refuseWith = undefined;
      fake.gate = undefined;
    },
    close: () => closeServer(server),
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://sts').pathname;
      const generate = GENERATE.exec(path);
      if (req.method === 'POST' && path === '/v1/token') {
        const form = new URLSearchParams(text);
        fake.exchanges.push({ contentType: req.headers['content-type'], form });
        void (fake.gate ?? Promise.resolve()).then(() => {
          if (form.get('grant_type') !== TOKEN_EXCHANGE || !form.get('subject_token')) {
            json(res, 400, { error: 'invalid_request', error_description: 'not a token exchange' });
            return;
          }
          if (fake.refuseWith !== undefined) {
            json(res, 400, { error: fake.refuseWith, error_description: 'refused by the fake STS' });
            return;
          }
          const token = `ya29.d.fake-federated-${fake.federatedTokens.length + 1}`;
          fake.federatedTokens.push(token);
          json(res, 200, {
            access_token: token,
            issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            token_type: 'Bearer',
            expires_in: 3600,
          });
        });
        return;
      }
      if (req.method === 'POST' && generate !== null) {
        let body: GenerateCall['body'] = {};
        try {
          body = JSON.parse(text) as GenerateCall['body'];
        } catch {
          // recorded as an empty body; refused below
        }
        const authorization = req.headers.authorization;
        fake.generated.push({ serviceAccount: decodeURIComponent(generate[1]!), authorization, body });
        const bearer = authorization?.replace(/^Bearer /, '');
        if (bearer === undefined || !fake.federatedTokens.includes(bearer)) {
          json(res, 401, { error: { code: 401, status: 'UNAUTHENTICATED', message: 'bad credential' } });
          return;
        }
        const token = `ya29.c.fake-impersonated-${fake.impersonatedTokens.length + 1}`;
        fake.impersonatedTokens.push(token);
        const lifetime = Number.parseInt(String(body.lifetime ?? '3600s'), 10);
        json(res, 200, {
          accessToken: token,
          expireTime: new Date(Date.now() + lifetime * 1000).toISOString(),
        });
        return;
      }
      fake.strays.push(`${req.method} ${req.url}`);
      json(res, 404, { error: 'not_found' });
    });
  });
  await listenOnLoopback(server);
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.tokenUrl = `${fake.url}/v1/token`;
  return fake;
}
