import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listenOnLoopback } from './loopback.js';

/** One token request as the fake received it. */
export interface MsiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The `X-IDENTITY-HEADER` it came with. */
  identityHeader: string | undefined;
}

export interface FakeAzureMsi {
  /** The IDENTITY_ENDPOINT to set: `http://127.0.0.1:<port>/msi/token`. */
  endpoint: string;
  /** The IDENTITY_HEADER value the fake expects (App Service's per-instance secret). */
  identityHeader: string;
  /** Token requests on the endpoint's path, in order (answered or refused). */
  requests: MsiRequest[];
  /** Requests to any other path. */
  strays: string[];
  /** Tokens issued, in order. */
  issued: string[];
  /** The last token issued for one resource (strays from earlier tests get their own). */
  lastIssuedFor(resource: string): string | undefined;
  /** Refuse the next requests with HTTP 400, until cleared. */
  refuse?: boolean;
  /** Fail the next requests with HTTP 500 (an outage), until cleared. */
  fail?: boolean;
  /** Answers wait for this first (to let concurrent callers pile up). */
  gate?: Promise<void>;
  /**
   * The requests for one resource. MSAL retries a 5xx in the background after the caller has
   * given up, so a later test can receive an earlier test's request: filter by resource.
   */
  requestsFor(resource: string): MsiRequest[];
  reset(): void;
  close(): Promise<void>;
}

/**
 * A fake Azure App Service managed identity endpoint (api-version 2019-08-01), as
 * `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` point MSAL's ManagedIdentityApplication at it: a GET
 * with `resource` (and `client_id` for a user-assigned identity) and the secret header, answered
 * with `{ access_token, expires_on, resource, token_type, client_id }`.
 */
export async function startFakeAzureMsi(identityHeader: string): Promise<FakeAzureMsi> {
  const byResource = new Map<string, string>();
  const fake: FakeAzureMsi = {
    endpoint: '',
    identityHeader,
    requests: [],
    strays: [],
    issued: [],
    lastIssuedFor(resource) {
      return byResource.get(resource);
    },
    requestsFor(resource) {
      return fake.requests.filter((request) => request.query.get('resource') === resource);
    },
    reset() {
      fake.requests.length = 0;
      fake.strays.length = 0;
      fake.refuse = undefined;
      fake.gate = undefined;
    },
    close: () => closeServer(server),
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://msi');
      const reply = (status: number, body: unknown) => {
        res.statusCode = status;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/msi/token') {
        fake.strays.push(`${req.method} ${req.url}`);
        reply(404, { error: 'not_found' });
        return;
      }
      const header = req.headers['x-identity-header'];
      const request: MsiRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        identityHeader: Array.isArray(header) ? header.join(', ') : header,
      };
      fake.requests.push(request);
      void (fake.gate ?? Promise.resolve()).then(() => {
        if (request.identityHeader !== identityHeader) {
          reply(401, { statusCode: 401, message: 'Unauthorized: X-IDENTITY-HEADER is missing or wrong' });
          return;
        }
        const resource = url.searchParams.get('resource');
        if (request.method !== 'GET' || url.searchParams.get('api-version') !== '2019-08-01' || !resource) {
          reply(400, { statusCode: 400, message: 'Bad request' });
          return;
        }
        if (fake.fail) {
          reply(500, { statusCode: 500, message: 'Internal error' });
          return;
        }
        if (fake.refuse) {
          reply(400, {
            statusCode: 400,
            message: 'No managed identity found for the specified client_id',
            correlationId: 'fake-correlation',
          });
          return;
        }
        const token = `eyJ0eXAiOiJKV1QifQ.fake-msi-${fake.issued.length + 1}.sig`;
        fake.issued.push(token);
        byResource.set(resource, token);
        reply(200, {
          access_token: token,
          expires_on: String(Math.floor(Date.now() / 1000) + 3600),
          resource,
          token_type: 'Bearer',
          client_id: url.searchParams.get('client_id') ?? '00000000-0000-0000-0000-00000000a55d',
        });
      });
    });
  });
  await listenOnLoopback(server);
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`;
  return fake;
}
