import { execFileSync } from 'node:child_process';
import type { IncomingMessage, RequestListener } from 'node:http';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import {
  createServer as createHttpsServer,
  type Server as HttpsServer,
  request as httpsRequest,
} from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageHead } from '../src/http/headers.js';
import { fromRfc9440, fromUrlEncodedPem, readCertificateHeader } from '../src/jwt/mtls/certificate-header.js';
import { certificateThumbprint } from '../src/jwt/mtls/thumbprint.js';
import { type Issued, makeTestPki, type TestPki } from './support/client-certificates.js';
import { type Framework, frameworks, type TestServer } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';

// Issue 14, RFC 8705 certificate-bound access tokens on jwtAuth: `cnf["x5t#S256"]` against the
// client certificate of the TLS connection, or of a header a trusted TLS-terminating proxy sets.

const all = await frameworks();

let pki: TestPki;
let key: TestKey;
/** x5t#S256 of each client certificate, computed by the openssl CLI (not by our code). */
const thumb: Record<'alice' | 'bob' | 'stranger', string> = { alice: '', bob: '', stranger: '' };
let boundToAlice: string;
let boundToStranger: string;
let unbound: string;

function opensslThumbprint(cert: string): string {
  const der = execFileSync('openssl', ['x509', '-outform', 'DER'], { input: cert });
  const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der });
  return digest.toString('base64url');
}

beforeAll(async () => {
  pki = makeTestPki();
  key = await makeKey('ES256');
  for (const name of ['alice', 'bob', 'stranger'] as const) thumb[name] = opensslThumbprint(pki[name].cert);
  boundToAlice = await sign(key, { cnf: { 'x5t#S256': thumb.alice } });
  boundToStranger = await sign(key, { cnf: { 'x5t#S256': thumb.stranger } });
  unbound = await sign(key);
});

const jwtOptions = (extra: Record<string, unknown> = {}) => ({
  issuer: ISSUER,
  audiences: [AUDIENCE],
  jwks: { inline: jwks(key) },
  ...extra,
});

/** RFC 9440 Client-Cert: sf-binary of the DER. */
const rfc9440 = (issued: Issued) => `:${issued.der.toString('base64')}:`;
/** nginx `$ssl_client_escaped_cert`: every reserved character escaped. */
const nginxEscaped = (issued: Issued) => encodeURIComponent(issued.cert);
/** AWS ALB `X-Amzn-Mtls-Clientcert`: URL-encoded PEM leaving `+`, `=` and `/` as they are. */
const albEscaped = (issued: Issued) =>
  encodeURIComponent(issued.cert).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/');

// ---------------------------------------------------------------------------------------------
describe('pure parts: thumbprint and header formats', () => {
  it('the thumbprint is base64url SHA-256 of the DER, as openssl computes it', () => {
    expect(certificateThumbprint(pki.alice.der)).toBe(thumb.alice);
    expect(thumb.alice).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(thumb.alice).not.toBe(thumb.bob);
  });

  it('RFC 9440: the sf-binary DER, with or without padding', () => {
    expect(fromRfc9440(rfc9440(pki.alice))?.equals(pki.alice.der)).toBe(true);
    expect(fromRfc9440(` ${rfc9440(pki.alice)} `)?.equals(pki.alice.der)).toBe(true);
    const unpadded = `:${pki.alice.der.toString('base64').replace(/=+$/, '')}:`;
    expect(fromRfc9440(unpadded)?.equals(pki.alice.der)).toBe(true);
  });

  it('RFC 9440: anything else is unreadable', () => {
    const b64 = pki.alice.der.toString('base64');
    for (const value of [
      b64, // no colons
      `:${b64}`,
      `:${b64}:;foo=1`, // parameters RFC 9440 does not define
      `:${pki.alice.der.toString('base64url')}:`, // base64url is not sf-binary
      `:${Buffer.from('not a certificate').toString('base64')}:`,
      `:${Buffer.from(pki.alice.cert).toString('base64')}:`, // PEM text is not the DER
      `:${Buffer.concat([pki.alice.der, Buffer.from([0])]).toString('base64')}:`, // trailing bytes
      '::',
      encodeURIComponent(pki.alice.cert), // the other format
      `:${'A'.repeat(40_000)}:`,
    ])
      expect(fromRfc9440(value)).toBeUndefined();
  });

  it('URL-encoded PEM: nginx and AWS ALB escaping', () => {
    expect(fromUrlEncodedPem(nginxEscaped(pki.alice))?.equals(pki.alice.der)).toBe(true);
    expect(fromUrlEncodedPem(albEscaped(pki.alice))?.equals(pki.alice.der)).toBe(true);
    expect(
      fromUrlEncodedPem(encodeURIComponent(pki.bob.cert.replace(/\n/g, '\r\n')))?.equals(pki.bob.der),
    ).toBe(true);
  });

  it('URL-encoded PEM: a chain, a key, bad escapes, plain PEM lines or garbage are unreadable', () => {
    for (const value of [
      encodeURIComponent(pki.alice.cert + pki.ca.cert), // which one is the leaf?
      encodeURIComponent(pki.alice.key),
      `${nginxEscaped(pki.alice)}%E0%A4%A`,
      rfc9440(pki.alice),
      encodeURIComponent(pki.alice.cert.replace('MII', 'M!I')),
      encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      '%'.repeat(40_000),
    ])
      expect(fromUrlEncodedPem(value)).toBeUndefined();
  });

  const head = (...raw: string[]): MessageHead => ({ headers: {}, rawHeaders: raw });

  it('the header is read from the raw list: twice, or another spelling beside or instead of it, is ambiguous', () => {
    const value = rfc9440(pki.alice);
    expect(readCertificateHeader(head('Client-Cert', value), 'client-cert', 'rfc9440')).toMatchObject({
      kind: 'found',
    });
    expect(readCertificateHeader(head('Accept', '*/*'), 'client-cert', 'rfc9440')).toEqual({
      kind: 'absent',
    });
    expect(
      readCertificateHeader(head('client-cert', value, 'client-cert', value), 'client-cert', 'rfc9440'),
    ).toEqual({ kind: 'ambiguous' });
    expect(
      readCertificateHeader(head('client-cert', value, 'Client_Cert', value), 'client-cert', 'rfc9440'),
    ).toEqual({ kind: 'ambiguous' });
    expect(readCertificateHeader(head('client.cert', value), 'client-cert', 'rfc9440')).toEqual({
      kind: 'ambiguous',
    });
    expect(readCertificateHeader(head('client-cert', 'junk'), 'client-cert', 'rfc9440')).toEqual({
      kind: 'unreadable',
    });
  });
});

// ---------------------------------------------------------------------------------------------
describe('the mtls option', () => {
  const lib = all[0]!.lib;
  const configError = (mtls: unknown): { field: string; message: string } => {
    try {
      const made = lib.jwtAuth(jwtOptions({ mtls }) as never);
      void made.close();
    } catch (error) {
      expect(error).toBeInstanceOf(lib.ConfigError);
      return error as { field: string; message: string };
    }
    return expect.fail('expected a ConfigError');
  };

  it('refuses mistakes at construction, naming the field', () => {
    expect(configError(true).field).toBe('mtls');
    expect(configError({ header: 'client-cert' })).toMatchObject({ field: 'mtls.header' });
    expect(configError({ header: 'client-cert' }).message).toContain('certificateHeader');
    expect(configError({ certificateHeader: 'client-cert' }).field).toBe('mtls.certificateHeader');
    expect(configError({ certificateHeader: {} }).field).toBe('mtls.certificateHeader.name');
    expect(configError({ certificateHeader: { name: 'client cert' } }).field).toBe(
      'mtls.certificateHeader.name',
    );
    expect(configError({ certificateHeader: { name: 'Authorization' } }).field).toBe(
      'mtls.certificateHeader.name',
    );
    const format = configError({ certificateHeader: { name: 'client-cert', format: 'der' } });
    expect(format.field).toBe('mtls.certificateHeader.format');
    expect(format.message).toContain('"rfc9440" or "pem-urlencoded"');
    expect(configError({ certificateHeader: { name: 'x', trusted: true } }).field).toBe(
      'mtls.certificateHeader.trusted',
    );
  });

  it('accepts the documented forms', async () => {
    for (const mtls of [
      {},
      { certificateHeader: { name: 'client-cert' } },
      { certificateHeader: { name: 'Client-Cert', format: 'rfc9440' } },
      { certificateHeader: { name: 'x-amzn-mtls-clientcert', format: 'pem-urlencoded' } },
    ]) {
      const made = lib.jwtAuth(jwtOptions({ mtls }) as never);
      await made.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
interface Answer {
  status: number;
  body: { error?: string; error_description?: string; auth?: { subject?: string } | null };
  challenge: string | undefined;
}

interface CallOptions {
  token: string;
  client?: Issued;
  headers?: OutgoingHttpHeaders;
}

function call(url: string, { token, client, headers = {} }: CallOptions): Promise<Answer> {
  const https = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const options = {
      headers: { authorization: `Bearer ${token}`, ...headers },
      agent: false as const,
      ...(https
        ? { ca: pki.ca.cert, ...(client === undefined ? {} : { cert: client.cert, key: client.key }) }
        : {}),
    };
    const sent = (https ? httpsRequest : httpRequest)(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body: text === '' ? {} : JSON.parse(text),
          challenge: res.headers['www-authenticate'] as string | undefined,
        });
      });
      res.on('error', reject);
    });
    sent.on('error', reject);
    sent.end();
  });
}

/** The app `framework.serve` built, also behind an https server asking for client certificates. */
interface TlsTestServer {
  http: TestServer;
  /** `requestCert: true`, `rejectUnauthorized: false`: the stranger's self-signed certificate gets in. */
  httpsUrl: string;
  close(): Promise<void>;
}

async function serveBoth(framework: Framework, middlewares: unknown[]): Promise<TlsTestServer> {
  const http = await framework.serve(middlewares);
  const app = http.server.listeners('request')[0] as RequestListener;
  const tls: HttpsServer = createHttpsServer(
    {
      key: pki.server.key,
      cert: pki.server.cert,
      ca: [pki.ca.cert],
      requestCert: true,
      rejectUnauthorized: false,
    },
    app,
  );
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', () => resolve()));
  const { port } = tls.address() as AddressInfo;
  return {
    http,
    httpsUrl: `https://127.0.0.1:${port}/`,
    async close() {
      tls.closeAllConnections();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
      await http.close();
    },
  };
}

const ACCEPTED = 200;
function expectRefused(answer: Answer, description: string): void {
  expect(answer.status).toBe(401);
  expect(answer.body.error).toBe('invalid_token');
  expect(answer.body.error_description).toBe(description);
  expect(answer.challenge).toBe(
    `Bearer realm="api", error="invalid_token", error_description="${description}"`,
  );
}
const NONE_PRESENTED = 'The token is bound to a client certificate and none was presented';
const OTHER_CERTIFICATE = 'The token is bound to another client certificate';
const UNREADABLE = 'The client certificate could not be read';

for (const framework of all) {
  describe(`${framework.name}: certificate-bound tokens`, () => {
    const debug: string[] = [];
    const logger = {
      warn: (line: string) => debug.push(line),
      info: () => {},
      debug: (line: string) => debug.push(line),
    };
    let socket: TlsTestServer;
    let rfcHeader: TlsTestServer;
    let pemHeader: TlsTestServer;
    let notConfigured: TlsTestServer;

    beforeAll(async () => {
      const lib = framework.lib;
      socket = await serveBoth(framework, [lib.jwtAuth(jwtOptions({ mtls: {}, logger }))]);
      rfcHeader = await serveBoth(framework, [
        lib.jwtAuth(jwtOptions({ mtls: { certificateHeader: { name: 'Client-Cert' } }, logger })),
      ]);
      pemHeader = await serveBoth(framework, [
        lib.jwtAuth(
          jwtOptions({
            mtls: { certificateHeader: { name: 'x-amzn-mtls-clientcert', format: 'pem-urlencoded' } },
            logger,
          }),
        ),
      ]);
      notConfigured = await serveBoth(framework, [lib.jwtAuth(jwtOptions({ logger }))]);
    });
    afterAll(async () => {
      await Promise.all([socket, rfcHeader, pemHeader, notConfigured].map((server) => server?.close()));
    });

    describe('from the TLS connection', () => {
      it('a bound token with the matching certificate: 200', async () => {
        const answer = await call(socket.httpsUrl, { token: boundToAlice, client: pki.alice });
        expect(answer.status).toBe(ACCEPTED);
        expect(answer.body.auth?.subject).toBe('alice');
      });

      it('with another certificate: 401', async () => {
        expectRefused(
          await call(socket.httpsUrl, { token: boundToAlice, client: pki.bob }),
          OTHER_CERTIFICATE,
        );
      });

      it('with no certificate: 401', async () => {
        expectRefused(await call(socket.httpsUrl, { token: boundToAlice }), NONE_PRESENTED);
      });

      it('over plain http: 401', async () => {
        expectRefused(await call(socket.http.url, { token: boundToAlice }), NONE_PRESENTED);
      });

      it('checked on every request: a token the cache holds is refused with another certificate', async () => {
        expect((await call(socket.httpsUrl, { token: boundToAlice, client: pki.alice })).status).toBe(
          ACCEPTED,
        );
        expectRefused(
          await call(socket.httpsUrl, { token: boundToAlice, client: pki.bob }),
          OTHER_CERTIFICATE,
        );
        expectRefused(await call(socket.http.url, { token: boundToAlice }), NONE_PRESENTED);
      });

      it('a presented certificate the server does not trust still proves the key (self-signed, RFC 8705 2.2)', async () => {
        expect((await call(socket.httpsUrl, { token: boundToStranger, client: pki.stranger })).status).toBe(
          ACCEPTED,
        );
        expectRefused(
          await call(socket.httpsUrl, { token: boundToStranger, client: pki.alice }),
          OTHER_CERTIFICATE,
        );
      });

      it('a certificate header is ignored when none is configured', async () => {
        const answer = await call(socket.http.url, {
          token: boundToAlice,
          headers: { 'client-cert': rfc9440(pki.alice), 'x-amzn-mtls-clientcert': albEscaped(pki.alice) },
        });
        expectRefused(answer, NONE_PRESENTED);
        // Nor does it count as the same request's certificate on TLS with another one.
        expectRefused(
          await call(socket.httpsUrl, {
            token: boundToAlice,
            client: pki.bob,
            headers: { 'client-cert': rfc9440(pki.alice) },
          }),
          OTHER_CERTIFICATE,
        );
      });

      it('a malformed confirmation is refused', async () => {
        for (const cnf of [{ 'x5t#S256': 'short' }, { 'x5t#S256': 42 }, { 'x5t#S256': `${thumb.alice}=` }]) {
          const token = await sign(key, { cnf });
          expectRefused(
            await call(socket.httpsUrl, { token, client: pki.alice }),
            "The token's certificate confirmation is malformed",
          );
        }
      });

      it('fails closed: a method beside x5t#S256 that nothing checks refuses the token, whatever the certificate', async () => {
        for (const cnf of [
          { 'x5t#S256': thumb.alice, jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' }, // no dpop configured
          { 'x5t#S256': thumb.alice, x5t: 'c29tZXRoaW5n' },
          {},
          'x5t#S256',
        ]) {
          const token = await sign(key, { cnf: cnf as never });
          const answer = await call(socket.httpsUrl, { token, client: pki.alice });
          expect(answer.status).toBe(401);
          expect(answer.body.error).toBe('invalid_token');
          expect(answer.challenge).toContain('Bearer realm="api", error="invalid_token"');
        }
      });

      it('tokens without cnf are unaffected: with any certificate, none, or over http', async () => {
        for (const [url, client] of [
          [socket.httpsUrl, pki.bob],
          [socket.httpsUrl, undefined],
          [socket.http.url, undefined],
        ] as const)
          expect((await call(url, { token: unbound, client })).status).toBe(ACCEPTED);
      });
    });

    describe('without the mtls option', () => {
      it('a bound token is refused even with the matching certificate (fails closed)', async () => {
        const answer = await call(notConfigured.httpsUrl, { token: boundToAlice, client: pki.alice });
        expect(answer.status).toBe(401);
        expect(answer.body.error).toBe('invalid_token');
        expect(answer.challenge).toContain('error="invalid_token"');
      });

      it('an unbound token is accepted', async () => {
        expect((await call(notConfigured.httpsUrl, { token: unbound, client: pki.alice })).status).toBe(
          ACCEPTED,
        );
      });
    });

    describe('from a trusted proxy header, RFC 9440 Client-Cert', () => {
      it('the matching certificate: 200; another: 401; none: 401', async () => {
        const url = rfcHeader.http.url;
        expect(
          (await call(url, { token: boundToAlice, headers: { 'Client-Cert': rfc9440(pki.alice) } })).status,
        ).toBe(ACCEPTED);
        expectRefused(
          await call(url, { token: boundToAlice, headers: { 'client-cert': rfc9440(pki.bob) } }),
          OTHER_CERTIFICATE,
        );
        expectRefused(await call(url, { token: boundToAlice }), NONE_PRESENTED);
      });

      it('unparsable, or in the other format: 401', async () => {
        const url = rfcHeader.http.url;
        for (const value of [':bm90IGEgY2VydA==:', 'garbage', albEscaped(pki.alice)])
          expectRefused(
            await call(url, { token: boundToAlice, headers: { 'client-cert': value } }),
            UNREADABLE,
          );
      });

      it('sent twice, or also under another spelling: 400', async () => {
        const url = rfcHeader.http.url;
        for (const headers of [
          { 'client-cert': [rfc9440(pki.alice), rfc9440(pki.alice)] },
          { 'client-cert': rfc9440(pki.alice), client_cert: rfc9440(pki.bob) },
          { 'client.cert': rfc9440(pki.alice) },
        ]) {
          const answer = await call(url, { token: boundToAlice, headers });
          expect(answer.status).toBe(400);
          expect(answer.body.error).toBe('invalid_request');
        }
      });

      it('the TLS peer is the proxy: its certificate never stands in for the header', async () => {
        expectRefused(
          await call(rfcHeader.httpsUrl, { token: boundToAlice, client: pki.alice }),
          NONE_PRESENTED,
        );
        expect(
          (
            await call(rfcHeader.httpsUrl, {
              token: boundToAlice,
              client: pki.bob,
              headers: { 'client-cert': rfc9440(pki.alice) },
            })
          ).status,
        ).toBe(ACCEPTED);
      });

      it('an unbound token does not depend on the header', async () => {
        expect((await call(rfcHeader.http.url, { token: unbound })).status).toBe(ACCEPTED);
        expect(
          (await call(rfcHeader.http.url, { token: unbound, headers: { 'client-cert': 'garbage' } })).status,
        ).toBe(ACCEPTED);
      });
    });

    describe('from a trusted proxy header, URL-encoded PEM', () => {
      it('AWS ALB and nginx escaping of the matching certificate: 200; another: 401', async () => {
        const url = pemHeader.http.url;
        for (const value of [albEscaped(pki.alice), nginxEscaped(pki.alice)])
          expect(
            (await call(url, { token: boundToAlice, headers: { 'x-amzn-mtls-clientcert': value } })).status,
          ).toBe(ACCEPTED);
        expectRefused(
          await call(url, {
            token: boundToAlice,
            headers: { 'x-amzn-mtls-clientcert': albEscaped(pki.bob) },
          }),
          OTHER_CERTIFICATE,
        );
      });

      it('unparsable: 401; twice: 400', async () => {
        const url = pemHeader.http.url;
        for (const value of [rfc9440(pki.alice), encodeURIComponent(pki.alice.cert + pki.bob.cert), '%zz'])
          expectRefused(
            await call(url, { token: boundToAlice, headers: { 'x-amzn-mtls-clientcert': value } }),
            UNREADABLE,
          );
        const twice = await call(url, {
          token: boundToAlice,
          headers: { 'x-amzn-mtls-clientcert': [albEscaped(pki.alice), albEscaped(pki.alice)] },
        });
        expect(twice.status).toBe(400);
        expect(twice.body.error).toBe('invalid_request');
      });
    });

    it("no certificate content reaches the log, only the refusals' fixed reasons", () => {
      expect(debug.some((line) => line.includes('client certificate does not match cnf'))).toBe(true);
      const fragments = [pki.alice, pki.bob, pki.stranger].map((issued) =>
        issued.der.toString('base64').slice(40, 80),
      );
      for (const line of debug) {
        for (const fragment of [...fragments, thumb.alice, thumb.bob]) expect(line).not.toContain(fragment);
      }
    });
  });
}
