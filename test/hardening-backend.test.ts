import { writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AzureBackendOptions, backendCredentials } from '../src/index.js';
import { errorClass, logText } from '../src/logging/log-text.js';
import { type Answer, expectRefusal, INVOKE, messages, send, tracker } from './support/backend-harness.js';
import { isolateAzure, startFakeTokenServices } from './support/cloud-env.js';
import { entraGateways } from './support/entra-gateways.js';
import { type FakeBedrock, startFakeBedrock } from './support/fake-bedrock.js';
import { type RawAnswer, startFakeEntra, tokenAnswer } from './support/fake-entra.js';
import { tempDir } from './support/files.js';
import { frameworks } from './support/frameworks.js';
import { closeServer, listenOnLoopback } from './support/loopback.js';
import { type RecordingUpstream, startRecordingUpstream } from './support/recording-upstream.js';
import { eventually, recorder, sleep } from './support/wait.js';

// Issue 11, the outbound side of backendAuth: what a hostile (or compromised, or misconfigured)
// token service can do to the gateway through its answers.
//   - Entra ID token endpoint (portcullis's own fetch): an endless or oversized body is read
//     while it streams and the connection dropped at 64 KiB; a redirect is never followed (the
//     POST carries the client secret): both 502, nothing forwarded.
//   - Every upstream string that reaches a log line (Entra's error and description, the AWS
//     SDK's error name from STS's <Code>, Google STS's OAuth error) is escaped to printable
//     ASCII, capped, and stripped of the credential the request carried; no response carries any
//     of it.

// --- Environment: AWS web identity and Google external_account point at loopback fakes --------

const files = await tempDir('portcullis-hardening-backend-');
isolateAzure();
const { sts, googleSts, close: closeTokenServices } = await startFakeTokenServices();

afterAll(async () => {
  await closeTokenServices();
  await files.remove();
});

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = '0d5c2f7e-4b1a-4c33-9e5f-7a8b9c0d1e2f';
/** Characters that URL- and form-encoding change, so every spelling of an echo is exercised. */
const CLIENT_SECRET = 'Xq8~fake+Entra/Client=Secret.Value-0123456789abcd';
const ASSERTION =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aGFyZGVuaW5nIn0.assertion-sig';
const WEB_IDENTITY_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImhhcmRlbmluZyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Z2F0ZXdheSJ9.irsa-hardening-sig';
const SUBJECT_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6Im9pZGMifQ.eyJpc3MiOiJodHRwczovL29pZGMiLCJzdWIiOiJoYXJkZW5pbmcifQ.subject-hardening-sig';
const SECRETS = [CLIENT_SECRET, ASSERTION, WEB_IDENTITY_TOKEN, SUBJECT_TOKEN];
const MiB = 1024 * 1024;
const CAP = 64 * 1024;
/** Upstream text no response may carry, and no log line may carry raw. */
const INJECTED = 'forged-line';

/** What a log line may be: one line of printable ASCII, bounded, with no credential in it. */
function expectSafeLogLines(lines: readonly string[], secrets: readonly string[] = SECRETS): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line).toMatch(/^[\x20-\x7e]*$/);
    expect(line.length).toBeLessThan(1200);
    for (const secret of secrets) {
      expect(line).not.toContain(secret);
      expect(line).not.toContain(encodeURIComponent(secret));
      expect(line).not.toContain(secret.slice(0, 16));
      expect(line).not.toContain(secret.slice(-16));
    }
  }
}

/** What a refusal may show: nothing the token service sent, and no credential. */
function expectBareRefusal(answer: Answer, status: 502 | 503): void {
  expectRefusal(
    answer,
    status,
    status === 502 ? 'backend_credentials_failed' : 'backend_credentials_unavailable',
    SECRETS,
  );
  for (const text of [INJECTED, 'AADSTS', 'evil', '\u001b', 'stolen', 'Location', '127.0.0.2']) {
    expect(answer.text).not.toContain(text);
  }
}

/** A loopback server that counts connections and requests: the origin a redirect points at. */
async function startBystander() {
  const seen = { connections: 0, requests: [] as string[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.requests.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString('utf8')}`);
      res.end(JSON.stringify(tokenAnswer('eyJ.from-the-bystander').body));
    });
  });
  server.on('connection', () => {
    seen.connections += 1;
  });
  await listenOnLoopback(server);
  return {
    seen,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => closeServer(server),
  };
}

/** A body streamed in 64 KiB chunks up to `total` bytes, honouring backpressure; stops when the client goes. */
function streamed(
  total: number,
  head: Record<string, string>,
  first = '{"token_type":"Bearer","access_token":"',
  status = 200,
) {
  const state = { written: 0, closed: false, finished: false };
  const answer: RawAnswer = {
    raw(res: ServerResponse) {
      res.on('close', () => {
        state.closed = true;
      });
      res.writeHead(status, head);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pump = () => {
        while (!state.closed && state.written < total) {
          const piece = state.written === 0 ? Buffer.from(first) : chunk;
          state.written += piece.byteLength;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!state.closed) {
          state.finished = true;
          res.end('"}');
        }
      };
      pump();
    },
  };
  return { state, answer };
}

const all = await frameworks();

// --- Entra ID: bodies read capped while streaming ---------------------------------------------

describe.each(all)('backendAuth azure on $name: a token endpoint that answers too much', (framework) => {
  const azure = entraGateways(framework, { tenantId: TENANT, clientId: CLIENT_ID });
  const logger = recorder();
  const gateway = () => azure.gateway({ clientSecret: CLIENT_SECRET }, { logger });

  const json = { 'content-type': 'application/json' };
  const rows: {
    name: string;
    stream: () => ReturnType<typeof streamed>;
    status: 502 | 503;
    logged: string;
    /** False when the whole answer is barely past the cap (the fake may finish writing it). */
    huge?: false;
  }[] = [
    {
      name: '200, 64 MiB chunked without Content-Length',
      stream: () => streamed(64 * MiB, json),
      status: 502,
      logged: `more than ${CAP} bytes`,
    },
    {
      name: '200, 64 MiB with a Content-Length that says so',
      stream: () => streamed(64 * MiB, { ...json, 'content-length': String(64 * MiB + 2) }),
      status: 502,
      logged: `more than ${CAP} bytes`,
    },
    {
      name: '200, 64 KiB + 1 byte, chunked (just past the cap)',
      stream: () => streamed(CAP + 1, json, 'x'),
      status: 502,
      logged: `more than ${CAP} bytes`,
      huge: false,
    },
    {
      name: '400, 64 MiB chunked error body',
      stream: () => streamed(64 * MiB, json, '{"error":"invalid_client","error_description":"', 400),
      status: 502,
      logged: `HTTP 400 with more than ${CAP} bytes`,
    },
    {
      name: '401, 64 MiB of text/html',
      stream: () => streamed(64 * MiB, { 'content-type': 'text/html' }, '<html>', 401),
      status: 502,
      logged: `HTTP 401 with more than ${CAP} bytes`,
    },
    {
      name: '503, 64 MiB chunked (never read: the status says it all)',
      stream: () => streamed(64 * MiB, json, '{"error":"temporarily_unavailable"', 503),
      status: 503,
      logged: 'HTTP 503',
    },
  ];

  it.each(rows)(
    '$name: refused ($status) at the cap, socket closed early, nothing forwarded',
    async (row) => {
      const url = await gateway();
      const { state, answer } = row.stream();
      azure.entra.answer = () => answer;
      const before = azure.upstream.received.length;
      const logged = logger.messages.length;
      const refused = await send(url, '/openai/deployments/d/chat/completions', { body: '{}' });
      expectBareRefusal(refused, row.status);
      expect(azure.upstream.received.length).toBe(before);
      // The gateway dropped the connection: the fake stopped far short of what it meant to send.
      expect(await eventually(() => state.closed)).toBe(true);
      if (row.huge !== false) expect(state.finished).toBe(false);
      expect(state.written).toBeLessThan(16 * MiB);
      const lines = logger.messages.slice(logged);
      expectSafeLogLines(lines);
      expect(lines.join('\n')).toContain(row.logged);
      expect(lines.join('\n')).not.toContain('aaaaaaaaaaaaaaaa');
      // A failure is not cached: a sane answer next serves the request.
      azure.entra.answer = () => tokenAnswer('eyJ.after-the-flood');
      const ok = await send(url, '/x', { body: '{}' });
      expect(ok.status).toBe(200);
      expect(azure.upstream.last().headers.authorization).toBe('Bearer eyJ.after-the-flood');
    },
  );

  it('a 200 whose body trickles and never ends: 503 within the same 5 s deadline, socket closed', async () => {
    const url = await gateway();
    const state = { closed: false, written: 0 };
    let timer: NodeJS.Timeout | undefined;
    azure.entra.answer = () => ({
      raw(res) {
        res.on('close', () => {
          state.closed = true;
          clearInterval(timer);
        });
        res.writeHead(200, json);
        res.write('{"access_token":"');
        timer = setInterval(() => {
          state.written += 1;
          res.write('a');
        }, 100);
      },
    });
    const before = azure.upstream.received.length;
    const logged = logger.messages.length;
    const refused = await send(url, '/x', { body: '{}' });
    clearInterval(timer);
    expectBareRefusal(refused, 503);
    expect(azure.upstream.received.length).toBe(before);
    expect(await eventually(() => state.closed)).toBe(true);
    expect(logger.messages.slice(logged).join('\n')).toContain('no answer within 5000 ms');
  });

  it('a gzip bomb (64 MiB inflated from 64 KiB) stops at 64 KiB of decompressed bytes: 502', async () => {
    const url = await gateway();
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"access_token":"'), Buffer.alloc(64 * MiB, 'a')]));
    expect(bomb.byteLength).toBeLessThan(CAP * 2);
    azure.entra.answer = () => ({
      raw(res) {
        res.writeHead(200, {
          ...json,
          'content-encoding': 'gzip',
          'content-length': String(bomb.byteLength),
        });
        res.end(bomb);
      },
    });
    const logged = logger.messages.length;
    const refused = await send(url, '/x', { body: '{}' });
    expectBareRefusal(refused, 502);
    expect(logger.messages.slice(logged).join('\n')).toContain(`more than ${CAP} bytes`);
  });

  it('a body just under the cap is read whole (the cap is not a lower limit)', async () => {
    const url = await gateway();
    const padding = 'p'.repeat(CAP - 200);
    azure.entra.answer = () => ({
      status: 200,
      body: { ...(tokenAnswer('eyJ.under-the-cap').body as object), padding },
    });
    const ok = await send(url, '/x', { body: '{}' });
    expect(ok.status).toBe(200);
    expect(azure.upstream.last().headers.authorization).toBe('Bearer eyJ.under-the-cap');
  });
});

// --- Entra ID: redirects are never followed ----------------------------------------------------

describe.each(all)('backendAuth azure on $name: a token endpoint that redirects', (framework) => {
  const azure = entraGateways(framework, { tenantId: TENANT, clientId: CLIENT_ID });
  const { perTest } = azure;
  const logger = recorder();

  const rows: { name: string; status: number; location: (other: string) => string | undefined }[] = [
    {
      name: '302 to another loopback origin',
      status: 302,
      location: (o) => `${o}/${TENANT}/oauth2/v2.0/token`,
    },
    { name: '307 (would re-POST the form) to another origin', status: 307, location: (o) => `${o}/steal` },
    { name: '308 (permanent, re-POST) to another origin', status: 308, location: (o) => `${o}/steal` },
    { name: '301 to another origin', status: 301, location: (o) => `${o}/steal` },
    { name: '303 to another origin', status: 303, location: (o) => `${o}/steal` },
    {
      name: '307 to a URL with userinfo and a query',
      status: 307,
      location: (o) => `${o.replace('//', '//admin:stolen-password@')}/steal?key=stolen-query`,
    },
    { name: '307 to the same origin (another path)', status: 307, location: () => `/${TENANT}/elsewhere` },
    { name: '302 without a Location', status: 302, location: () => undefined },
    { name: '302 to an unusable Location', status: 302, location: () => 'http://[evil' },
  ];

  it.each(rows)('$name: 502, nothing followed, the other origin sees nothing', async (row) => {
    const other = perTest.track(await startBystander());
    const url = await azure.gateway({ clientSecret: CLIENT_SECRET }, { logger });
    const { entra, upstream } = azure;
    entra.answer = () => ({
      raw(res) {
        const location = row.location(other.origin);
        res.writeHead(row.status, location === undefined ? {} : { location });
        res.end(`redirecting with ${INJECTED}`);
      },
    });
    const before = upstream.received.length;
    const logged = logger.messages.length;
    const refused = await send(url, '/openai/deployments/d/chat/completions', { body: '{}' });
    expectBareRefusal(refused, 502);
    expect(upstream.received.length).toBe(before);
    // Not one connection, let alone the client secret, reached the redirect's target.
    expect(other.seen.connections).toBe(0);
    expect(other.seen.requests).toEqual([]);
    expect(entra.requests).toHaveLength(1);
    expect(entra.strays).toEqual([]);
    const lines = logger.messages.slice(logged);
    expectSafeLogLines(lines);
    const text = lines.join('\n');
    expect(text).toContain(`HTTP ${row.status}`);
    expect(text).toContain('not followed');
    for (const hidden of ['stolen-password', 'stolen-query', INJECTED]) expect(text).not.toContain(hidden);
  });

  it('backendCredentials().apply(): a redirect is the same 502 AuthError, no secret in it', async () => {
    const other = perTest.track(await startBystander());
    const entra = perTest.track(await startFakeEntra(TENANT));
    entra.answer = () => ({
      raw(res) {
        res.writeHead(307, { location: `${other.origin}/steal` });
        res.end();
      },
    });
    const credentials = backendCredentials({
      azure: {
        tenantId: TENANT,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        authorityHost: entra.authorityHost,
      },
      logger,
    });
    perTest.track(credentials);
    const error = await credentials
      .apply({ method: 'POST', url: `${azure.upstream.url}/x`, headers: {}, body: '{}' })
      .then(
        () => undefined,
        (thrown: unknown) => thrown as Error & { status?: number },
      );
    expect(error?.status).toBe(502);
    const shown = `${error?.message} ${JSON.stringify(error)} ${String(error?.stack)}`;
    for (const secret of SECRETS) expect(shown).not.toContain(secret);
    expect(shown).not.toContain(other.origin);
    expect(other.seen.connections).toBe(0);
  });
});

// --- Entra ID: what its error answers may put in the log ---------------------------------------

const ESC = '\u001b';
const entraErrors: {
  name: string;
  body: (secret: string) => unknown;
  /** Something the (escaped) log line must still show the operator. */
  shows?: string;
}[] = [
  {
    name: 'CR/LF in the description (a forged log line)',
    body: () => ({
      error: 'invalid_client',
      error_description: `AADSTS7000215: bad secret\r\n[portcullis] backendAuth azure: ${INJECTED}\r\n`,
    }),
    shows: '\\u000d\\u000a',
  },
  {
    name: 'LF, NEL, U+2028 and NUL',
    body: () => ({ error: 'invalid_client', error_description: `a\n${INJECTED}\u0085b\u2028c\u0000d` }),
    shows: '\\u0085',
  },
  {
    name: 'ANSI escapes (clear screen, colours, title)',
    body: () => ({
      error: 'invalid_client',
      error_description: `${ESC}[2J${ESC}[31m${INJECTED}${ESC}[0m${ESC}]0;pwned\u0007`,
    }),
    shows: '\\u001b[2J',
  },
  {
    name: 'CR/LF and ANSI in the error code itself',
    body: () => ({ error: `invalid_client\r\n${ESC}[31m${INJECTED}`, error_description: 'x' }),
  },
  {
    name: '100 KB of description (past the 64 KiB cap: not even parsed)',
    body: () => ({ error: 'invalid_client', error_description: `AADSTS90002: ${'e'.repeat(100_000)}` }),
    shows: `HTTP 401 with more than ${CAP} bytes`,
  },
  {
    name: '60 KB of description (under the cap: cut in the log)',
    body: () => ({ error: 'invalid_client', error_description: `AADSTS90002: ${'e'.repeat(60_000)}` }),
    shows: 'more characters',
  },
  {
    name: '60 KB error code',
    body: () => ({ error: 'c'.repeat(60_000), error_description: 'x' }),
    shows: 'more characters',
  },
  {
    name: 'the client secret echoed in the description',
    body: (secret) => ({
      error: 'invalid_client',
      error_description: `AADSTS7000215: Invalid client secret provided: ${secret}`,
    }),
    shows: '[credential]',
  },
  {
    name: 'the secret echoed URL-encoded and form-encoded',
    body: (secret) => ({
      error: 'invalid_request',
      error_description: `body was client_secret=${new URLSearchParams({ s: secret }).toString().slice(2)}&x=${encodeURIComponent(secret)}`,
    }),
  },
  {
    name: 'the secret echoed in the error code',
    body: (secret) => ({ error: secret, error_description: 'x' }),
  },
  {
    name: 'the secret echoed just where the description is cut',
    body: (secret) => ({
      error: 'invalid_client',
      error_description: `${'f'.repeat(290)}${secret}${'g'.repeat(500)}`,
    }),
  },
  {
    name: 'a JWT (an access token) in the description',
    body: () => ({
      error: 'invalid_client',
      error_description: `issued ${WEB_IDENTITY_TOKEN} instead`,
    }),
    shows: '[token]',
  },
  {
    name: 'a URL with userinfo in the description',
    body: () => ({
      error: 'invalid_client',
      error_description: 'see https://admin:stolen-pw@login.example/x',
    }),
  },
  {
    name: 'a non-JSON body with the secret in it (never logged)',
    body: (secret) => `<html>${INJECTED} client_secret=${secret}</html>`,
  },
  {
    name: 'a description that is not a string',
    body: (secret) => ({ error: 'invalid_client', error_description: { secret, text: INJECTED } }),
  },
];

describe.each(all)('backendAuth azure on $name: error answers in the log', (framework) => {
  const azure = entraGateways(framework, { tenantId: TENANT, clientId: CLIENT_ID });
  const gateway = (credential: AzureBackendOptions, logger: ReturnType<typeof recorder>) =>
    azure.gateway(credential, { logger });

  const sources: { name: string; secret: string; options: () => Promise<AzureBackendOptions> }[] = [
    { name: 'client secret', secret: CLIENT_SECRET, options: async () => ({ clientSecret: CLIENT_SECRET }) },
    {
      name: 'federated assertion',
      secret: ASSERTION,
      options: async () => {
        const file = files.file(`assertion-${framework.name}`);
        await writeFile(file, ASSERTION);
        return { federatedTokenFile: file };
      },
    },
  ];

  it('a background renewal that fails: the same escaped, redacted reason, the current token still served', async () => {
    const logger = recorder();
    const url = await gateway({ clientSecret: CLIENT_SECRET }, logger);
    // Two seconds of life: renewal starts one second in (half the lifetime).
    azure.entra.answer = (index) =>
      index === 0
        ? tokenAnswer('eyJ.short-lived', 2)
        : {
            status: 401,
            body: { error: 'invalid_client', error_description: `${CLIENT_SECRET}\r\n${ESC}[31m${INJECTED}` },
          };
    expect((await send(url, '/x', { body: '{}' })).status).toBe(200);
    await sleep(1100);
    const served = await send(url, '/x', { body: '{}' });
    expect(served.status).toBe(200);
    expect(azure.upstream.last().headers.authorization).toBe('Bearer eyJ.short-lived');
    expect(await eventually(() => logger.messages.some((m) => m.includes('renewal failed')))).toBe(true);
    expectSafeLogLines(logger.messages);
    expect(logger.messages.join('\n')).toContain('[credential]\\u000d\\u000a\\u001b[31m');
  });

  describe.each(sources)('with a $name', (source) => {
    it.each(entraErrors)('$name: 502, escaped, capped, no credential', async (row) => {
      const logger = recorder();
      const url = await gateway(await source.options(), logger);
      azure.entra.answer = () => ({ status: 401, body: row.body(source.secret) });
      const before = azure.upstream.received.length;
      const refused = await send(url, '/openai/deployments/d/chat/completions', { body: '{}' });
      expectBareRefusal(refused, 502);
      expect(azure.upstream.received.length).toBe(before);
      expect(azure.entra.requests).toHaveLength(1);
      expectSafeLogLines(logger.messages);
      const text = logger.messages.join('\n');
      expect(text).toContain('HTTP 401');
      expect(text).not.toContain('stolen-pw');
      if (row.shows !== undefined) expect(text).toContain(row.shows);
    });
  });
});

// --- AWS: the SDK's error name is STS's <Code> ------------------------------------------------

const ROLE_ARN = 'arn:aws:iam::123456789012:role/hardening';
const stsCodes: { name: string; code: string; shows?: string }[] = [
  {
    name: 'CR/LF (a forged log line)',
    code: `AccessDenied\r\n[portcullis] backendAuth aws: ${INJECTED}`,
    shows: 'AccessDenied',
  },
  { name: 'ANSI escapes', code: `${ESC}[2J${ESC}[31m${INJECTED}${ESC}[0m` },
  { name: 'a 100 KB code', code: `Denied${'d'.repeat(100_000)}`, shows: 'more characters' },
  { name: 'the web identity token echoed', code: `Bad_${WEB_IDENTITY_TOKEN}` },
  { name: 'non-ASCII and U+2028', code: `Acc\u00e8s\u2028${INJECTED}` },
];

describe.each(all)('backendAuth aws web identity on $name: STS error codes in the log', (framework) => {
  let bedrock: FakeBedrock;
  const opened = tracker();
  const perTest = tracker();
  let roles = 0;

  beforeAll(async () => {
    bedrock = opened.track(await startFakeBedrock(sts.keys));
  });
  afterAll(() => opened.closeAll());
  afterEach(async () => {
    await perTest.closeAll();
    sts.reset();
  });

  it.each(stsCodes)('$name: 502, nothing forwarded, the log line escaped and capped', async (row) => {
    const logger = recorder();
    const tokenFile = files.file(`irsa-${framework.name}-${++roles}`);
    await writeFile(tokenFile, WEB_IDENTITY_TOKEN);
    const middleware = perTest.track(
      framework.lib.backendAuth({
        aws: {
          webIdentity: { roleArn: `${ROLE_ARN}-${framework.name}-${roles}`, tokenFile },
          region: 'us-east-1',
          service: 'bedrock',
        },
        upstream: bedrock.url,
        logger,
      }),
    );
    const url = perTest.track(await framework.serve([middleware], { forwardTo: bedrock.url })).url;
    sts.refuseWith = { status: 403, code: row.code };
    const before = bedrock.received.length;
    const refused = await send(url, INVOKE, {
      headers: { 'content-type': 'application/json' },
      body: messages('hello'),
    });
    expectBareRefusal(refused, 502);
    expect(bedrock.received.length).toBe(before);
    expectSafeLogLines(logger.messages);
    if (row.shows !== undefined) expect(logger.messages.join('\n')).toContain(row.shows);
  });
});

// --- Google: the token service's OAuth error ---------------------------------------------------

const googleErrors: { name: string; error: string; shows?: string }[] = [
  {
    name: 'CR/LF (a forged log line)',
    error: `invalid_grant\r\n[portcullis] backendAuth gcp: ${INJECTED}`,
    shows: 'invalid_grant',
  },
  { name: 'ANSI escapes', error: `${ESC}[2J${ESC}[31m${INJECTED}` },
  { name: 'a 100 KB error', error: 'g'.repeat(100_000), shows: 'more characters' },
  { name: 'the subject token echoed', error: `invalid_grant ${SUBJECT_TOKEN}` },
];

describe.each(all)('backendAuth gcp external_account on $name: STS errors in the log', (framework) => {
  let upstream: RecordingUpstream;
  const opened = tracker();
  const perTest = tracker();
  let count = 0;

  beforeAll(async () => {
    upstream = opened.track(await startRecordingUpstream());
  });
  afterAll(() => opened.closeAll());
  afterEach(async () => {
    await perTest.closeAll();
    googleSts.reset();
  });

  it.each(googleErrors)('$name: 502, nothing forwarded, the log line escaped and capped', async (row) => {
    const logger = recorder();
    count += 1;
    const subject = files.file(`subject-${framework.name}-${count}`);
    await writeFile(subject, SUBJECT_TOKEN);
    const credentialsFile = files.file(`external-${framework.name}-${count}.json`);
    await writeFile(
      credentialsFile,
      JSON.stringify({
        type: 'external_account',
        audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/h',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: googleSts.tokenUrl,
        credential_source: { file: subject },
      }),
    );
    const middleware = perTest.track(
      framework.lib.backendAuth({ gcp: { credentialsFile }, upstream: upstream.url, logger }),
    );
    const url = perTest.track(await framework.serve([middleware], { forwardTo: upstream.url })).url;
    googleSts.refuseWith = row.error;
    const before = upstream.received.length;
    const refused = await send(url, '/v1/models', {
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expectBareRefusal(refused, 502);
    expect(upstream.received.length).toBe(before);
    expectSafeLogLines(logger.messages);
    if (row.shows !== undefined) expect(logger.messages.join('\n')).toContain(row.shows);
  });
});

// --- The helper itself: one escape for every log line -----------------------------------------

describe('logText: the one way upstream and client text enters a log line', () => {
  const rows: { name: string; value: unknown; secrets?: string[]; max?: number; expected: string }[] = [
    { name: 'plain text', value: 'invalid_client', expected: 'invalid_client' },
    { name: 'CR/LF', value: 'a\r\nb', expected: 'a\\u000d\\u000ab' },
    {
      name: 'ESC, DEL, NEL, U+2028',
      value: '\u001b[31m\u007f\u0085\u2028',
      expected: '\\u001b[31m\\u007f\\u0085\\u2028',
    },
    { name: 'quotes and backslashes', value: 'say "hi" \\n', expected: 'say \\"hi\\" \\\\n' },
    { name: 'an astral character', value: '\u{1F600}', expected: '\\ud83d\\ude00' },
    { name: 'a cut', value: 'x'.repeat(12), max: 5, expected: 'xxxxx... (7 more characters)' },
    { name: 'a secret', value: 'k=s3cr3t+/=', secrets: ['s3cr3t+/='], expected: 'k=[credential]' },
    {
      name: 'a secret URL-encoded',
      value: 'k=s3cr3t%2B%2F%3D',
      secrets: ['s3cr3t+/='],
      expected: 'k=[credential]',
    },
    {
      name: 'a secret form-encoded',
      value: 'k=s3cr3t%2B%2F%3D x',
      secrets: ['s3cr3t+/='],
      expected: 'k=[credential] x',
    },
    { name: 'an empty secret changes nothing', value: 'abc', secrets: [''], expected: 'abc' },
    { name: 'a JWT', value: 'got eyJhbGciOi.eyJzdWIi.c2ln ok', expected: 'got [token] ok' },
    { name: 'userinfo', value: 'postgres://u:hunter2@db/x', expected: 'postgres://***@db/x' },
    { name: 'not a string', value: { toString: () => 'evil\r\n' }, expected: '(object)' },
    { name: 'null', value: null, expected: '(null)' },
  ];

  it.each(rows)('$name', ({ value, secrets, max, expected }) => {
    expect(logText(value, max ?? 200, secrets)).toBe(expected);
  });

  it('a secret cut by the cap is redacted first, so no part of it is left', () => {
    const secret = 'S3cretValueThatIsLong';
    for (const max of [9, 12, 20, 40]) {
      const shown = logText(`${'a'.repeat(8)}${secret}`, max, [secret]);
      expect(shown).not.toContain('S3c');
      if (max >= 20) expect(shown).toContain('[credential]');
    }
  });

  it('stays quick on 100 KB of JWT-like text (no quadratic pattern)', () => {
    const hostile = 'eyJ'.repeat(40_000);
    expect(logText(hostile, 300).length).toBeLessThan(400);
  });

  it('errorClass shows a constructor name, never the message or a forged name', () => {
    const forged = new Error('token abc');
    forged.name = 'x\r\ny';
    expect(errorClass(forged)).toBe('Error');
    expect(errorClass(new TypeError('t'))).toBe('TypeError');
    expect(errorClass('text')).toBe('string');
  });
});
