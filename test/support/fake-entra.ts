import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listenOnLoopback } from './loopback.js';

/** One token request as the fake received it. */
export interface TokenRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  form: URLSearchParams;
}

/** What the fake answers to the n-th (0-based) token request. */
export interface TokenAnswer {
  status: number;
  /** Sent as JSON unless it is a string. */
  body: unknown;
}

/** An answer the test writes itself (a stream, a redirect, odd headers). */
export interface RawAnswer {
  raw: (res: ServerResponse) => void;
}

export interface FakeEntra {
  /** The `authorityHost` to configure: `http://127.0.0.1:<port>`. */
  authorityHost: string;
  /** Token requests received on `/<tenant>/oauth2/v2.0/token`, in order. */
  requests: TokenRequest[];
  /** Requests to any other path. */
  strays: string[];
  /** Decides each answer; default: a fresh token valid for an hour. */
  answer: (index: number) => TokenAnswer | RawAnswer;
  /** Token answers wait for this first (to let concurrent callers pile up). */
  gate?: Promise<void>;
  /** The tokens it issued, in order. */
  issued: string[];
  close(): Promise<void>;
}

/** A fresh token answer, as Entra ID sends it. */
export function tokenAnswer(token: string, expiresIn = 3599): TokenAnswer {
  return {
    status: 200,
    body: { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token },
  };
}

/**
 * A fake Entra ID (Azure AD) v2.0 token endpoint for `tenant`: records each form it is POSTed
 * and answers what `answer` says.
 */
export async function startFakeEntra(tenant: string): Promise<FakeEntra> {
  const fake: FakeEntra = {
    authorityHost: '',
    requests: [],
    strays: [],
    issued: [],
    answer: (index) => tokenAnswer(`eyJ.fake-entra-${index + 1}`),
    close: () => closeServer(server),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://login').pathname;
      if (path !== `/${tenant}/oauth2/v2.0/token` || req.method !== 'POST') {
        fake.strays.push(`${req.method} ${req.url}`);
        res.statusCode = 404;
        res.end();
        return;
      }
      const index = fake.requests.length;
      fake.requests.push({
        method: req.method,
        path,
        contentType: req.headers['content-type'],
        form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      });
      void (fake.gate ?? Promise.resolve()).then(() => {
        const answer = fake.answer(index);
        if ('raw' in answer) {
          answer.raw(res);
          return;
        }
        const { status, body } = answer;
        if (status === 200 && typeof body === 'object' && body !== null && 'access_token' in body) {
          fake.issued.push(String(body.access_token));
        }
        res.statusCode = status;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      });
    });
  });
  await listenOnLoopback(server);
  fake.authorityHost = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
