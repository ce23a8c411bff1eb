import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listenOnLoopback } from './loopback.js';

/** How the fake answers the token paths; tests change it between requests. */
export interface MetadataBehaviour {
  /** Lifetime of the access tokens it issues, in seconds. */
  expiresIn: number;
  /** Answer the token and identity paths with this status instead (a 5xx outage). */
  failWith?: number;
  /** Token answers wait for this first (to let concurrent callers pile up). */
  gate?: Promise<void>;
}

export interface FakeMetadataServer {
  /** `127.0.0.1:<port>`, for GCE_METADATA_HOST. */
  host: string;
  behaviour: MetadataBehaviour;
  /** Hits on the access token path (each one, answered or failed). */
  tokenHits: number;
  /** Hits on the ID token path. */
  identityHits: number;
  /** Access tokens issued, in order. */
  accessTokens: string[];
  /** ID tokens issued, in order. */
  idTokens: string[];
  /** The `scopes` each access token request asked for. */
  scopes: (string | null)[];
  /** The `audience` each ID token request asked for. */
  audiences: (string | null)[];
  /** Requests that came without `Metadata-Flavor: Google` (refused with 403). */
  unflavoured: number;
  /** Forgets what was issued and restores the default behaviour. */
  reset(): void;
  close(): Promise<void>;
}

const BASE = '/computeMetadata/v1';

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An unsigned-looking ID token: only its claims matter to the gateway (it reads `exp`). */
function idToken(audience: string, serial: number): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: 'https://accounts.google.com',
    aud: audience,
    sub: '104857600000000000001',
    email: 'gateway@fake-project.iam.gserviceaccount.com',
    iat: now,
    exp: now + 3600,
    jti: `id-${serial}`,
  };
  return `${base64url({ alg: 'RS256', typ: 'JWT', kid: 'fake' })}.${base64url(claims)}.${Buffer.from(`sig-${serial}`).toString('base64url')}`;
}

/**
 * A fake GCE metadata server, as google-auth-library / gcp-metadata talk to it: the detection
 * ping (`/instance`), the project id, the service account's access token and ID token. Every
 * answer carries `Metadata-Flavor: Google`, which gcp-metadata checks.
 */
export async function startFakeMetadataServer(): Promise<FakeMetadataServer> {
  const fake: FakeMetadataServer = {
    host: '',
    behaviour: { expiresIn: 3599 },
    tokenHits: 0,
    identityHits: 0,
    accessTokens: [],
    idTokens: [],
    scopes: [],
    audiences: [],
    unflavoured: 0,
    reset() {
      fake.behaviour = { expiresIn: 3599 };
      fake.tokenHits = 0;
      fake.identityHits = 0;
      fake.accessTokens = [];
      fake.idTokens = [];
      fake.scopes = [];
      fake.audiences = [];
      fake.unflavoured = 0;
    },
    close: () => closeServer(server),
  };

  const send = (res: ServerResponse, status: number, body: string, type = 'application/text') => {
    res.statusCode = status;
    res.setHeader('metadata-flavor', 'Google');
    res.setHeader('content-type', type);
    res.end(body);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://metadata.google.internal');
    req.resume();
    if (req.headers['metadata-flavor'] !== 'Google') {
      fake.unflavoured += 1;
      send(res, 403, 'Missing Metadata-Flavor: Google header');
      return;
    }
    const path = url.pathname.replace(/\/$/, '');
    const behaviour = fake.behaviour;
    switch (path) {
      case `${BASE}/instance`:
        send(res, 200, '');
        return;
      case `${BASE}/project/project-id`:
        send(res, 200, 'fake-project');
        return;
      case `${BASE}/universe/universe-domain`:
        send(res, 200, 'googleapis.com');
        return;
      case `${BASE}/instance/service-accounts/default/token`: {
        fake.tokenHits += 1;
        fake.scopes.push(url.searchParams.get('scopes'));
        void (behaviour.gate ?? Promise.resolve()).then(() => {
          if (behaviour.failWith !== undefined) {
            send(res, behaviour.failWith, 'internal error');
            return;
          }
          const token = `ya29.fake-access-${fake.accessTokens.length + 1}`;
          fake.accessTokens.push(token);
          send(
            res,
            200,
            JSON.stringify({ access_token: token, expires_in: behaviour.expiresIn, token_type: 'Bearer' }),
            'application/json',
          );
        });
        return;
      }
      case `${BASE}/instance/service-accounts/default/identity`: {
        fake.identityHits += 1;
        const audience = url.searchParams.get('audience');
        fake.audiences.push(audience);
        void (behaviour.gate ?? Promise.resolve()).then(() => {
          if (behaviour.failWith !== undefined) {
            send(res, behaviour.failWith, 'internal error');
            return;
          }
          const token = idToken(audience ?? '', fake.idTokens.length + 1);
          fake.idTokens.push(token);
          send(res, 200, token);
        });
        return;
      }
      default:
        send(res, 404, 'Not Found');
    }
  });
  await listenOnLoopback(server);
  fake.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
