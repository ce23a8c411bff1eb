import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsBackendOptions,
  type AzureBackendOptions,
  backendCredentials,
  type GcpBackendOptions,
} from '../src/index.js';
import {
  authorizationOf,
  expectRefusal,
  gateAfter,
  INVOKE,
  MODEL,
  messages,
  send,
  thrown,
  tracker,
} from './support/backend-harness.js';
import { isolateAws, isolateGoogle } from './support/cloud-env.js';
import { entraGateways } from './support/entra-gateways.js';
import { type FakeBedrock, startFakeBedrock } from './support/fake-bedrock.js';
import { tokenAnswer } from './support/fake-entra.js';
import { startFakeMetadataServer } from './support/fake-gcp-metadata.js';
import { type TempDir, tempDir } from './support/files.js';
import { frameworks } from './support/frameworks.js';
import { freePort } from './support/loopback.js';
import { type RecordingUpstream, startRecordingUpstream } from './support/recording-upstream.js';
import { eventually, recorder, sleep } from './support/wait.js';

// backendAuth's cloud credential kinds (aws, gcp, azure) on both adapters, each against a fake
// of the real service on 127.0.0.1: a Bedrock runtime that recomputes SigV4 with the AWS SDK's
// signer, a GCE metadata server that google-auth-library finds through ADC, and an Entra ID
// token endpoint. Every request goes through a real gateway (Express 5 + http-proxy-middleware,
// Koa 3 + a fetch forwarder) to a real upstream.

// --- Environment: set before any credential library is loaded or any request is made --------

// Google ADC: no key file, no gcloud user credentials, only the (fake) metadata server.
const metadata = await startFakeMetadataServer();
const google = await isolateGoogle(metadata.host);

const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION_KEY_ID = 'ASIAQSESSIONEXAMPLE1';
const SESSION_SECRET = 'Se55ionSecretKey/K7MDENG+bPxRfiCYEXAMPLE';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEFAKEsessiontoken//////////wEaCXVzLWVhc3QtMSJHMEUCIQ';
const PROFILE_KEY_ID = 'AKIAPROFILEEXAMPLE01';
const PROFILE_SECRET = 'pr0fileSecretKey/FromTheSharedCredentialsFile';

// AWS default chain: only this shared credentials file (no env keys, no IMDS, no SSO).
const aws = await isolateAws(
  `[default]\naws_access_key_id = AKIADEFAULTNOTUSED00\naws_secret_access_key = notTheOneToUse\n\n[test]\naws_access_key_id = ${PROFILE_KEY_ID}\naws_secret_access_key = ${PROFILE_SECRET}\n`,
);

afterAll(async () => {
  await metadata.close();
  await google.close();
  await aws.close();
});

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = '0d5c2f7e-4b1a-4c33-9e5f-7a8b9c0d1e2f';
const CLIENT_SECRET = 'Xq8~fakeEntraClientSecret.Value-0123456789abcd';
const FEDERATED_ASSERTION = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.projected-sig';
const DEFAULT_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** Nothing the gateway holds as a secret may ever reach a client. */
const SECRETS = [
  AWS_SECRET,
  SESSION_SECRET,
  SESSION_TOKEN,
  PROFILE_SECRET,
  CLIENT_SECRET,
  FEDERATED_ASSERTION,
];
function expectNoSecrets(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

const INVOKE_ENCODED = `/model/${encodeURIComponent(MODEL)}/invoke`;

const all = await frameworks();

// --- AWS SigV4 ------------------------------------------------------------------------------------

describe.each(all)('backendAuth aws (SigV4) on $name, to a fake Bedrock', (framework) => {
  let bedrock: FakeBedrock;
  let gatewayUrl: string;
  const opened = tracker();
  const perTest = tracker();
  const logger = recorder();

  const staticKeys = { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET };
  const scope = { region: 'us-east-1', service: 'bedrock' };

  /** A gateway signing with `aws` in front of the fake Bedrock, closed after the test. */
  async function gateway(aws: AwsBackendOptions): Promise<string> {
    const middleware = perTest.track(framework.lib.backendAuth({ aws, upstream: bedrock.url, logger }));
    const server = perTest.track(await framework.serve([middleware], { forwardTo: bedrock.url }));
    return server.url;
  }

  beforeAll(async () => {
    bedrock = opened.track(
      await startFakeBedrock({
        [AWS_KEY_ID]: { secretAccessKey: AWS_SECRET },
        [SESSION_KEY_ID]: { secretAccessKey: SESSION_SECRET, sessionToken: SESSION_TOKEN },
        [PROFILE_KEY_ID]: { secretAccessKey: PROFILE_SECRET },
      }),
    );
    const middleware = opened.track(
      framework.lib.backendAuth({ aws: { ...staticKeys, ...scope }, upstream: bedrock.url, logger }),
    );
    gatewayUrl = opened.track(await framework.serve([middleware], { forwardTo: bedrock.url })).url;
  });
  afterEach(() => perTest.closeAll());
  afterAll(() => opened.closeAll());

  it.each([
    { name: 'a raw colon', path: INVOKE },
    { name: 'a percent-encoded colon', path: INVOKE_ENCODED },
  ])(
    'signs POST /model/.../invoke with $name in the model id: the fake verifies it (200)',
    async ({ path }) => {
      const body = messages('Hello, Claude');
      const answer = await send(gatewayUrl, path, {
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toMatchObject({ type: 'message' });
      expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 200, reason: 'signature matches' });
      const received = bedrock.last();
      expect(received.method).toBe('POST');
      expect(received.url).toBe(path);
      expect(received.body).toBe(body);
      expect(received.headers.host).toBe(new URL(bedrock.url).host);
      expect(received.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
      expect(received.headers.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${AWS_KEY_ID}/\\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}$`,
        ),
      );
    },
  );

  it.each(['/model/{m}/invoke', '/model/a"b/invoke', '/model/a|b/invoke', '/model/x/%2e%2e/m/invoke'])(
    'sends a path that needs normalizing exactly as it signed it: %s',
    async (path) => {
      const { hostname, port } = new URL(gatewayUrl);
      // node:http sends the path byte for byte (fetch would normalize it first).
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ hostname, port, path, method: 'GET' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 200, reason: 'signature matches' });
    },
  );

  it('signs the query string (repeated and encoded parameters): 200', async () => {
    const path = `${INVOKE}?b=2&a=1&a=0&note=hello%20world&colon=a%3Ab`;
    const answer = await send(gatewayUrl, path, {
      headers: { 'content-type': 'application/json' },
      body: messages('with a query'),
    });
    expect(answer.status).toBe(200);
    expect(bedrock.verdicts.at(-1)?.status).toBe(200);
    expect(bedrock.last().url).toBe(path);
  });

  it('signs a GET with no body: 200', async () => {
    const answer = await send(gatewayUrl, '/foundation-models?byProvider=anthropic');
    expect(answer.status).toBe(200);
    expect(bedrock.verdicts.at(-1)?.status).toBe(200);
    expect(bedrock.last()).toMatchObject({ method: 'GET', body: '' });
    expect(bedrock.last().headers.authorization).toContain('SignedHeaders=host;x-amz-date,');
  });

  it('signs a 1 MB body, and the upstream receives exactly the signed bytes', async () => {
    const filler = 'Grüße aus Köln ☃ — '.repeat(Math.ceil((1024 * 1024) / 20));
    const body = messages(filler);
    expect(Buffer.byteLength(body)).toBeGreaterThan(1024 * 1024);
    const answer = await send(gatewayUrl, INVOKE, {
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(answer.status).toBe(200);
    expect(bedrock.verdicts.at(-1)?.status).toBe(200);
    const received = bedrock.last();
    const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
    expect(Buffer.byteLength(received.body)).toBe(Buffer.byteLength(body));
    expect(digest(received.body)).toBe(digest(body));
  });

  it('forwards and signs x-amz-security-token with session credentials', async () => {
    const url = await gateway({
      accessKeyId: SESSION_KEY_ID,
      secretAccessKey: SESSION_SECRET,
      sessionToken: SESSION_TOKEN,
      ...scope,
    });
    const answer = await send(url, INVOKE, {
      headers: { 'content-type': 'application/json' },
      body: messages('session'),
    });
    expect(answer.status).toBe(200);
    expect(bedrock.verdicts.at(-1)?.status).toBe(200);
    const received = bedrock.last();
    expect(received.headers['x-amz-security-token']).toBe(SESSION_TOKEN);
    expect(received.headers.authorization).toContain(`Credential=${SESSION_KEY_ID}/`);
    expect(received.headers.authorization).toContain(
      'SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,',
    );
    expectNoSecrets(answer.text);
  });

  it("removes the client's Authorization and x-amz-* headers before signing", async () => {
    const answer = await send(gatewayUrl, INVOKE, {
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer client-credential-abc',
        'x-amz-date': '20000101T000000Z',
        'x-amz-security-token': 'client-session-token',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'x-amz-target': 'client.target',
        'x-request-id': 'kept-42',
      },
      body: messages('strip me'),
    });
    expect(answer.status).toBe(200);
    expect(bedrock.verdicts.at(-1)?.status).toBe(200);
    const received = bedrock.last();
    expect(received.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\//);
    expect(received.headers['x-amz-date']).not.toBe('20000101T000000Z');
    expect(received.headers['x-amz-security-token']).toBeUndefined();
    expect(received.headers['x-amz-content-sha256']).toBeUndefined();
    expect(received.headers['x-amz-target']).toBeUndefined();
    expect(received.headers['x-request-id']).toBe('kept-42');
    const raw = received.rawHeaders.join('\n');
    expect(raw).not.toContain('client-credential-abc');
    expect(raw).not.toContain('client-session-token');
    expect(raw).not.toContain('20000101T000000Z');
  });

  it("signs for the configured service: 'execute-api' is refused by Bedrock (403)", async () => {
    const url = await gateway({ ...staticKeys, region: 'us-east-1', service: 'execute-api' });
    const answer = await send(url, INVOKE, {
      headers: { 'content-type': 'application/json' },
      body: messages('wrong service'),
    });
    expect(answer.status).toBe(403);
    expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 403, reason: 'signature mismatch' });
    expect(bedrock.last().headers.authorization).toContain('/us-east-1/execute-api/aws4_request');
  });

  it("the middleware's apply() signs a request for fetch: 200; a changed body is refused (403)", async () => {
    const middleware = perTest.track(
      framework.lib.backendAuth({ aws: { ...staticKeys, ...scope }, upstream: bedrock.url, logger }),
    );
    const body = messages('apply');
    const prepared = await middleware.apply({
      method: 'POST',
      url: `${bedrock.url}${INVOKE}`,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer client' },
      body,
    });
    expect(prepared.url).toBe(`${bedrock.url}${INVOKE}`);
    expect(prepared.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    const ok = await fetch(prepared.url, prepared);
    expect(ok.status).toBe(200);
    expect(bedrock.last().body).toBe(body);
    const tampered = await fetch(prepared.url, { ...prepared, body: messages('apply, changed') });
    expect(tampered.status).toBe(403);
    expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 403, reason: 'signature mismatch' });
  });

  it("uses the default chain without keys: profile 'test' from AWS_SHARED_CREDENTIALS_FILE (200)", async () => {
    const url = await gateway({ profile: 'test', ...scope });
    const answer = await send(url, INVOKE, {
      headers: { 'content-type': 'application/json' },
      body: messages('profile'),
    });
    expect(answer.status).toBe(200);
    expect(bedrock.verdicts.at(-1)?.status).toBe(200);
    expect(bedrock.last().headers.authorization).toContain(`Credential=${PROFILE_KEY_ID}/`);
    expectNoSecrets(answer.text);
  });

  it('answers 502 when the default chain finds nothing, and forwards nothing', async () => {
    const url = await gateway({ profile: 'no-such-profile', ...scope });
    const before = bedrock.received.length;
    const answer = await send(url, INVOKE, {
      headers: { 'content-type': 'application/json' },
      body: messages('nothing found'),
    });
    expectRefusal(answer, 502, 'backend_credentials_failed', SECRETS);
    expect(bedrock.received.length).toBe(before);
  });

  it('answers 413 to a body larger than maxBodyBytes, and forwards nothing', async () => {
    const middleware = perTest.track(
      framework.lib.backendAuth({
        aws: { ...staticKeys, ...scope },
        upstream: bedrock.url,
        maxBodyBytes: 1024,
        logger,
      }),
    );
    const url = perTest.track(await framework.serve([middleware], { forwardTo: bedrock.url })).url;
    const before = bedrock.received.length;
    const answer = await send(url, INVOKE, {
      headers: { 'content-type': 'application/json' },
      body: messages('x'.repeat(4096)),
    });
    expectRefusal(answer, 413, 'request_too_large', SECRETS);
    expect(bedrock.received.length).toBe(before);
  });

  it('reports configuration errors at construction, naming the option', () => {
    const noRegion = thrown(() =>
      framework.lib.backendAuth({ aws: staticKeys, upstream: 'https://llm-proxy.example.com/v1' }),
    );
    expect(noRegion.name).toBe('ConfigError');
    expect(noRegion.message).toContain('`aws.region`');
    expect(noRegion.message).not.toContain(AWS_SECRET);

    const noUpstream = thrown(() => framework.lib.backendAuth({ aws: { ...staticKeys, ...scope } }));
    expect(noUpstream.name).toBe('ConfigError');
    expect(noUpstream.message).toContain('`upstream`');

    const twoSources = thrown(() =>
      framework.lib.backendAuth({
        aws: { ...scope, profile: 'p', webIdentity: { roleArn: 'arn:aws:iam::1:role/r', tokenFile: '/t' } },
        upstream: 'https://llm-proxy.example.com',
      }),
    );
    expect(twoSources.message).toContain('`aws.webIdentity`');
    const halfKeys = thrown(() =>
      framework.lib.backendAuth({
        aws: { ...scope, accessKeyId: AWS_KEY_ID },
        upstream: 'https://x.example.com',
      }),
    );
    expect(halfKeys.message).toContain('`aws.secretAccessKey`');

    // The region (and service) come from a Bedrock runtime host: no error.
    const fromHost = framework.lib.backendAuth({
      aws: staticKeys,
      upstream: 'https://bedrock-runtime.eu-west-3.amazonaws.com',
    });
    expect(typeof fromHost).toBe('function');
    perTest.track(fromHost);
  });
});

describe('backendCredentials({ aws }).apply() + fetch, to a fake Bedrock', () => {
  let bedrock: FakeBedrock;
  beforeAll(async () => {
    bedrock = await startFakeBedrock({ [AWS_KEY_ID]: { secretAccessKey: AWS_SECRET } });
  });
  afterAll(() => bedrock.close());

  it('signs with one reading of the clock, even when a day turns between two readings (200)', async () => {
    const credentials = backendCredentials({
      aws: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET, region: 'us-east-1', service: 'bedrock' },
    });
    // A clock that moves 1 ms each time it is read, starting 1 ms before midnight: a signer
    // reading it twice would put one day in x-amz-date and the next in its credential scope.
    const RealDate = Date;
    let next = RealDate.UTC(2031, 5, 20, 23, 59, 59, 999);
    class TickingDate extends RealDate {
      constructor(...args: [] | [number | string | Date]) {
        if (args.length === 0) super(next++);
        else super(args[0]);
      }
    }
    let prepared: Awaited<ReturnType<typeof credentials.apply>>;
    globalThis.Date = TickingDate as DateConstructor;
    try {
      prepared = await credentials.apply({
        method: 'POST',
        url: `${bedrock.url}${INVOKE}`,
        headers: { 'content-type': 'application/json' },
        body: messages('midnight'),
      });
    } finally {
      globalThis.Date = RealDate;
      await credentials.close();
    }
    expect(prepared.headers['x-amz-date']).toBe('20310620T235959Z');
    expect(prepared.headers.authorization).toContain('/20310620/us-east-1/bedrock/aws4_request');
    const answer = await fetch(prepared.url, prepared);
    expect(answer.status).toBe(200);
    expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 200, reason: 'signature matches' });
  });

  it('prepares a signed request that the fake verifies (200); a tampered body gets 403', async () => {
    const credentials = backendCredentials({
      aws: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET, region: 'us-east-1', service: 'bedrock' },
    });
    try {
      const body = messages('core apply');
      const url = `${bedrock.url}${INVOKE_ENCODED}?trace=ENABLED`;
      const prepared = await credentials.apply({
        method: 'post',
        url,
        headers: new Headers({ 'content-type': 'application/json', 'x-amz-date': '19990101T000000Z' }),
        body,
      });
      expect(prepared).toMatchObject({ method: 'POST', url, body });
      expect(prepared.headers.host).toBeUndefined();
      expect(prepared.headers['x-amz-date']).not.toBe('19990101T000000Z');

      const ok = await fetch(prepared.url, prepared);
      expect(ok.status).toBe(200);
      expect(bedrock.verdicts.at(-1)?.status).toBe(200);
      expect(bedrock.last()).toMatchObject({ url: `${INVOKE_ENCODED}?trace=ENABLED`, body });

      const tampered = await fetch(prepared.url, { ...prepared, body: messages('core apply, tampered') });
      expect(tampered.status).toBe(403);
      expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 403, reason: 'signature mismatch' });
      expectNoSecrets(await tampered.text());
    } finally {
      await credentials.close();
    }
  });

  it('signs a Uint8Array body as the same bytes', async () => {
    const credentials = backendCredentials({
      aws: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET, region: 'us-east-1', service: 'bedrock' },
    });
    try {
      const body = new TextEncoder().encode(messages('bytes ✓'));
      const prepared = await credentials.apply({
        method: 'POST',
        url: `${bedrock.url}${INVOKE}`,
        headers: { 'content-type': 'application/json' },
        body,
      });
      const ok = await fetch(prepared.url, prepared);
      expect(ok.status).toBe(200);
      expect(bedrock.last().body).toBe(messages('bytes ✓'));
    } finally {
      await credentials.close();
    }
  });

  it('one instance serves several upstreams: each request is signed for its own host', async () => {
    const credentials = backendCredentials({
      aws: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET, region: 'us-east-1', service: 'bedrock' },
    });
    try {
      const port = new URL(bedrock.url).port;
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
        const prepared = await credentials.apply({
          method: 'POST',
          url: `http://${host}${INVOKE}`,
          headers: { 'content-type': 'application/json' },
          body: messages(host),
        });
        expect((await fetch(prepared.url, prepared)).status).toBe(200);
        expect(bedrock.last().headers.host).toBe(host);
      }
    } finally {
      await credentials.close();
    }
  });

  it('without aws.region, each AWS host is signed for the region it names', async () => {
    const credentials = backendCredentials({
      aws: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET },
      upstream: 'https://bedrock-runtime.eu-west-3.amazonaws.com',
    });
    try {
      for (const region of ['eu-west-3', 'us-west-2']) {
        const prepared = await credentials.apply({
          method: 'POST',
          url: `https://bedrock-runtime.${region}.amazonaws.com${INVOKE}`,
          body: '{}',
        });
        expect(prepared.headers.authorization).toContain(`/${region}/bedrock/aws4_request`);
      }
    } finally {
      await credentials.close();
    }
  });

  it('requires a region unless the upstream host names one', async () => {
    const keys = { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET };
    // Without an upstream, the region is read from each URL at apply() (issue 12): test/api-backend.
    const nonAws = thrown(() => backendCredentials({ aws: keys, upstream: bedrock.url }));
    expect(nonAws.name).toBe('ConfigError');
    expect(nonAws.message).toContain('`aws.region`');
    expect(nonAws.message).not.toContain(AWS_SECRET);
    const derived = backendCredentials({
      aws: keys,
      upstream: 'https://bedrock-runtime.eu-west-3.amazonaws.com',
    });
    const prepared = await derived.apply({
      method: 'POST',
      url: `https://bedrock-runtime.eu-west-3.amazonaws.com${INVOKE}`,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(prepared.headers.authorization).toContain('/eu-west-3/bedrock/aws4_request');
    await derived.close();
  });
});

// --- GCP (metadata server) -----------------------------------------------------------------------

describe.each(all)('backendAuth gcp on $name, via a fake GCE metadata server', (framework) => {
  let upstream: RecordingUpstream;
  const opened = tracker();
  const perTest = tracker();
  const logger = recorder();

  beforeAll(async () => {
    upstream = opened.track(await startRecordingUpstream());
  });
  afterEach(async () => {
    await perTest.closeAll();
    metadata.reset();
  });
  afterAll(() => opened.closeAll());

  /** A gateway using `gcp` in front of the recording upstream; `before` goes ahead of it. */
  async function gateway(gcp: GcpBackendOptions, before: unknown[] = []) {
    const middleware = perTest.track(framework.lib.backendAuth({ gcp, upstream: upstream.url, logger }));
    return perTest.track(await framework.serve([...before, middleware], { forwardTo: upstream.url })).url;
  }

  it('forwards an access token from the metadata server as Authorization: Bearer', async () => {
    const url = await gateway({});
    const answer = await send(url, '/v1/projects/p/locations/us-central1/models', {
      headers: { authorization: 'Bearer client-token' },
    });
    expect(answer.status).toBe(200);
    expect(metadata.accessTokens).toEqual(['ya29.fake-access-1']);
    expect(authorizationOf(upstream)).toBe('Bearer ya29.fake-access-1');
    expect(upstream.last().rawHeaders.join('\n')).not.toContain('client-token');
    expect(metadata.scopes).toEqual(['https://www.googleapis.com/auth/cloud-platform']);
    expect(metadata.unflavoured).toBe(0);
  });

  it('10 concurrent requests share one token fetch', async () => {
    const { gate, before } = gateAfter(framework, 10);
    metadata.behaviour.gate = gate;
    const url = await gateway({}, [before]);
    const start = upstream.received.length;
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(url, `/v1/call/${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(metadata.tokenHits).toBe(1);
    const forwarded = upstream.received.slice(start);
    expect(forwarded).toHaveLength(10);
    for (const received of forwarded)
      expect(received.headers.authorization).toBe('Bearer ya29.fake-access-1');
  });

  it('renews ahead of expiry in the background, serving the current token meanwhile', async () => {
    metadata.behaviour.expiresIn = 8;
    const url = await gateway({});
    expect((await send(url, '/first')).status).toBe(200);
    expect(authorizationOf(upstream)).toBe('Bearer ya29.fake-access-1');
    expect(metadata.tokenHits).toBe(1);

    // Past half the 8 s lifetime (with 3.5 s to spare on a slow machine): this request is served the current token and starts a renewal.
    await sleep(4500);
    expect((await send(url, '/second')).status).toBe(200);
    expect(authorizationOf(upstream)).toBe('Bearer ya29.fake-access-1');

    const renewed = await eventually(async () => {
      expect((await send(url, '/after')).status).toBe(200);
      return authorizationOf(upstream) === 'Bearer ya29.fake-access-2';
    });
    expect(renewed).toBe(true);
    expect(metadata.tokenHits).toBe(2);
  });

  it('forwards an ID token whose audience defaults to https://<upstream host>', async () => {
    const url = await gateway({ type: 'idToken' });
    const answer = await send(url, '/invoke', {
      body: '{"q":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(200);
    expect(metadata.audiences).toEqual([`https://${new URL(upstream.url).host}`]);
    expect(metadata.idTokens).toHaveLength(1);
    expect(authorizationOf(upstream)).toBe(`Bearer ${metadata.idTokens[0]}`);
    expect(upstream.last().body).toBe('{"q":1}');
    // A second request reuses the token (its exp is an hour away).
    expect((await send(url, '/again')).status).toBe(200);
    expect(metadata.identityHits).toBe(1);
    expect(metadata.tokenHits).toBe(0);
  });

  it('one instance, several upstreams: the upstream function picks the host, and each host has its own ID token', async () => {
    const other = 'http://localhost:9'; // only named, never reached: the audience follows it
    const middleware = perTest.track(
      framework.lib.backendAuth({
        gcp: { type: 'idToken' },
        upstream: (request) => (request.url.startsWith('/other/') ? other : upstream.url),
        logger,
      }),
    );
    const url = perTest.track(await framework.serve([middleware], { forwardTo: upstream.url })).url;
    for (const path of ['/main/1', '/other/1', '/main/2', '/other/2']) {
      expect((await send(url, path)).status).toBe(200);
    }
    const main = `https://${new URL(upstream.url).host}`;
    expect(metadata.audiences).toEqual([main, 'https://localhost:9']);
    const sent = upstream.received.slice(-4).map((received) => received.headers.authorization);
    expect(sent[0]).toBe(sent[2]);
    expect(sent[1]).toBe(sent[3]);
    expect(sent[0]).not.toBe(sent[1]);
  });

  it('forwards an ID token for the configured audience', async () => {
    const audience = 'https://my-service-abc123-uc.a.run.app';
    const url = await gateway({ type: 'idToken', audience });
    expect((await send(url, '/invoke')).status).toBe(200);
    expect(metadata.audiences).toEqual([audience]);
    expect(authorizationOf(upstream)).toBe(`Bearer ${metadata.idTokens[0]}`);
  });

  it('answers 503 when the metadata server fails (500), forwards nothing, and does not cache the failure', async () => {
    metadata.behaviour.failWith = 500;
    const url = await gateway({});
    const before = upstream.received.length;
    const failed = await send(url, '/down', { body: 'payload', headers: { 'content-type': 'text/plain' } });
    expectRefusal(failed, 503, 'backend_credentials_unavailable', SECRETS);
    expect(failed.headers.get('retry-after')).toBe('5');
    expect(metadata.tokenHits).toBeGreaterThanOrEqual(1);
    expect(upstream.received.length).toBe(before);

    metadata.behaviour.failWith = undefined;
    const recovered = await send(url, '/up');
    expect(recovered.status).toBe(200);
    expect(authorizationOf(upstream)).toBe(`Bearer ${metadata.accessTokens[0]}`);
  });

  it('answers 503 when the metadata server is rate limited (429), like the AWS and Entra sources', async () => {
    metadata.behaviour.failWith = 429;
    const url = await gateway({});
    const before = upstream.received.length;
    const limited = await send(url, '/limited');
    expectRefusal(limited, 503, 'backend_credentials_unavailable', SECRETS);
    expect(upstream.received.length).toBe(before);
    metadata.behaviour.failWith = undefined;
    expect((await send(url, '/after')).status).toBe(200);
  });
});

// --- Azure (Entra ID client credentials) -------------------------------------------------------

describe.each(all)('backendAuth azure on $name, via a fake Entra ID token endpoint', (framework) => {
  let federated: TempDir;
  const azure = entraGateways(framework, { tenantId: TENANT, clientId: CLIENT_ID });
  const { perTest } = azure;
  const logger = recorder();

  beforeAll(async () => {
    federated = await tempDir('portcullis-federated-');
  });
  afterAll(() => federated.remove());

  /** A fresh token endpoint and a gateway using it. */
  const gateway = (credential: AzureBackendOptions, before: unknown[] = []) =>
    azure.gateway(credential, { logger, before });

  it('10 concurrent requests: one token fetch with the client-credentials form, all forwarded with it', async () => {
    const { gate, before } = gateAfter(framework, 10);
    const url = await gateway({ clientSecret: CLIENT_SECRET }, [before]);
    azure.entra.gate = gate;
    const start = azure.upstream.received.length;
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send(url, `/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01&n=${i}`, {
          headers: {
            'content-type': 'application/json',
            'api-key': 'client-key',
            authorization: 'Bearer mine',
          },
          body: '{"messages":[]}',
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(azure.entra.requests).toHaveLength(1);
    const forwarded = azure.upstream.received.slice(start);
    expect(forwarded).toHaveLength(10);
    for (const received of forwarded) {
      expect(received.headers.authorization).toBe('Bearer eyJ.fake-entra-1');
      expect(received.body).toBe('{"messages":[]}');
    }

    const [request] = azure.entra.requests;
    expect(request!.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request!.form)).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      scope: DEFAULT_SCOPE,
    });
    expect(azure.entra.strays).toEqual([]);
  });

  it('answers 503 backend_credentials_unavailable when the endpoint is down, and forwards nothing', async () => {
    const port = await freePort();
    const middleware = perTest.track(
      framework.lib.backendAuth({
        azure: {
          tenantId: TENANT,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          authorityHost: `http://127.0.0.1:${port}`,
        },
        logger,
      }),
    );
    const url = perTest.track(await framework.serve([middleware], { forwardTo: azure.upstream.url })).url;
    const before = azure.upstream.received.length;
    const answer = await send(url, '/openai/deployments/d/chat/completions', { body: '{}' });
    expectRefusal(answer, 503, 'backend_credentials_unavailable', SECRETS);
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(azure.upstream.received.length).toBe(before);
  });

  it('answers 502 when the endpoint refuses the client (401 invalid_client), without the secret', async () => {
    const url = await gateway({ clientSecret: CLIENT_SECRET });
    azure.entra.answer = () => ({
      status: 401,
      body: {
        error: 'invalid_client',
        error_description: `AADSTS7000215: Invalid client secret provided: ${CLIENT_SECRET}`,
      },
    });
    const before = azure.upstream.received.length;
    const messagesBefore = logger.messages.length;
    const answer = await send(url, '/openai/deployments/d/chat/completions', { body: '{}' });
    expectRefusal(answer, 502, 'backend_credentials_failed', SECRETS);
    expect(answer.text).not.toContain(CLIENT_SECRET);
    expect(answer.text).not.toContain('AADSTS');
    expect(azure.upstream.received.length).toBe(before);
    const logged = logger.messages.slice(messagesBefore).join('\n');
    expect(logged).toContain('invalid_client');
    expect(logged).not.toContain(CLIENT_SECRET);
  });

  it('answers 502 to a token with CR/LF in it, and keeps serving', async () => {
    const url = await gateway({ clientSecret: CLIENT_SECRET });
    azure.entra.answer = (index) =>
      index === 0 ? tokenAnswer('eyJ.evil\r\nX-Injected: yes') : tokenAnswer('eyJ.clean-token');
    const before = azure.upstream.received.length;
    const bad = await send(url, '/x', { body: '{}' });
    expectRefusal(bad, 502, 'backend_credentials_failed', SECRETS);
    expect(bad.text).not.toContain('X-Injected');
    expect(azure.upstream.received.length).toBe(before);

    const good = await send(url, '/x', { body: '{}' });
    expect(good.status).toBe(200);
    expect(authorizationOf(azure.upstream)).toBe('Bearer eyJ.clean-token');
    expect(azure.upstream.last().headers['x-injected']).toBeUndefined();
  });

  it('sends the federated token file as client_assertion (workload identity)', async () => {
    const file = federated.file('azure-identity-token');
    await writeFile(file, `${FEDERATED_ASSERTION}\n`);
    const url = await gateway({ federatedTokenFile: file, scope: 'api://gateway-upstream/.default' });
    const answer = await send(url, '/call', { headers: { authorization: 'Bearer client' } });
    expect(answer.status).toBe(200);
    expect(authorizationOf(azure.upstream)).toBe('Bearer eyJ.fake-entra-1');
    expect(azure.entra.requests).toHaveLength(1);
    expect(Object.fromEntries(azure.entra.requests[0]!.form)).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      scope: 'api://gateway-upstream/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: FEDERATED_ASSERTION,
    });
  });

  it('does not cache a failure: the endpoint fails once, the next request succeeds', async () => {
    const url = await gateway({ clientSecret: CLIENT_SECRET });
    azure.entra.answer = (index) =>
      index === 0
        ? { status: 500, body: { error: 'temporarily_unavailable' } }
        : tokenAnswer('eyJ.second-try');
    const failed = await send(url, '/x', { body: '{}' });
    expectRefusal(failed, 503, 'backend_credentials_unavailable', SECRETS);
    const ok = await send(url, '/x', { body: '{}' });
    expect(ok.status).toBe(200);
    expect(authorizationOf(azure.upstream)).toBe('Bearer eyJ.second-try');
    expect(azure.entra.requests).toHaveLength(2);
  });
});
