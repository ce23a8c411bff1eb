import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, type BackendAuthOptions, backendCredentials, ConfigError } from '../src/index.js';
import {
  authorizationOf,
  expectRefusal,
  INVOKE,
  messages,
  send,
  thrown,
  tracker,
} from './support/backend-harness.js';
import { isolateAzure, startFakeTokenServices } from './support/cloud-env.js';
import { type FakeBedrock, startFakeBedrock } from './support/fake-bedrock.js';
import { startFakeEntra } from './support/fake-entra.js';
import { type TempDir, tempDir } from './support/files.js';
import { frameworks } from './support/frameworks.js';
import { type RecordingUpstream, startRecordingUpstream } from './support/recording-upstream.js';
import { recorder } from './support/wait.js';

// Issue 12, backendAuth's edges: agentgateway's own configuration shapes accepted where they map
// one-to-one onto portcullis's (and refused, naming the field written, where they do not); an
// empty header prefix meaning "no prefix" (outbound and inbound); aws without a region signing
// for the region each Bedrock URL names. Every accepted shape is checked on what a real
// upstream (or fake token service) received, through both adapters.

// Google: only the files the tests give, STS faked; Azure: nothing from this machine.
const { googleSts, sts, close: closeTokenServices } = await startFakeTokenServices();
isolateAzure();
const files: TempDir = await tempDir('portcullis-api-backend-');
afterAll(async () => {
  await closeTokenServices();
  await files.remove();
});

const BACKEND_KEY = 'sk-backend-agw-5e4d3c2b1a';
const ENV_KEY = 'PORTCULLIS_API_BACKEND_KEY';
process.env[ENV_KEY] = 'sk-from-env-agw-9f8e7d';
afterAll(() => {
  delete process.env[ENV_KEY];
});
const AWS_KEY_ID = 'AKIAAPIBACKENDEXAMPL';
const AWS_SECRET = 'apiBackendSecretKey/K7MDENG+bPxRfiCYEXAMPLE';
const TENANT = '4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const CLIENT_ID = '9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b';
const CLIENT_SECRET = 'Zz8~agentgatewayShapeClientSecret.0123456789';
const ASSERTION = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YWd3In0.projected';
const SECRETS = [BACKEND_KEY, AWS_SECRET, CLIENT_SECRET, ASSERTION];
const ALICE_KEY = 'ak_alice_api_backend_0f1e2d3c4b5a';

/** A file under the test directory holding `content`; its path. */
async function fileWith(name: string, content: string): Promise<string> {
  const path = files.file(name);
  await writeFile(path, content);
  return path;
}

/** The ConfigError `fn` throws; no secret in its message. */
function configError(fn: () => unknown): Error {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(ConfigError);
  for (const secret of SECRETS) expect(error.message).not.toContain(secret);
  return error;
}

const all = await frameworks();

describe.each(all)('agentgateway backendAuth shapes on $name', (framework) => {
  let upstream: RecordingUpstream;
  const opened = tracker();
  const perTest = tracker();
  const logger = recorder();

  beforeAll(async () => {
    upstream = opened.track(await startRecordingUpstream());
  });
  afterEach(async () => {
    await perTest.closeAll();
    googleSts.reset();
  });
  afterAll(() => opened.closeAll());

  /** A gateway with backendAuth(`options`) in front of the recording upstream; its URL. */
  async function gateway(options: BackendAuthOptions): Promise<string> {
    const middleware = perTest.track(framework.lib.backendAuth({ logger, ...options } as BackendAuthOptions));
    return perTest.track(await framework.serve([middleware], { forwardTo: upstream.url })).url;
  }
  /** Sends one request through `url` and returns what the upstream received. */
  async function forwarded(url: string, headers: Record<string, string> = {}) {
    const before = upstream.received.length;
    const answer = await send(url, '/v1/chat/completions', { headers, body: '{}' });
    expect(answer.status, answer.text).toBe(200);
    expect(upstream.received.length).toBe(before + 1);
    return upstream.last();
  }

  it("key: { file } (the issue's own example) sends the file's key as Authorization: Bearer", async () => {
    const file = await fileWith(`key-${framework.name}`, `${BACKEND_KEY}\n`);
    const url = await gateway({ key: { file } });
    const received = await forwarded(url, { authorization: 'Bearer client-token' });
    expect(received.headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);
  });

  it("key: { env } sends the variable's value; key: { value: { file } } and a plain string still work", async () => {
    const fromEnv = await gateway({ key: { env: ENV_KEY } });
    expect((await forwarded(fromEnv)).headers.authorization).toBe(`Bearer ${process.env[ENV_KEY]}`);
    const file = await fileWith(`value-file-${framework.name}`, BACKEND_KEY);
    const nested = await gateway({ key: { value: { file } } });
    expect((await forwarded(nested)).headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);
    const plain = await gateway({ key: BACKEND_KEY });
    expect((await forwarded(plain)).headers.authorization).toBe(`Bearer ${BACKEND_KEY}`);
  });

  it("an empty header prefix means none: x-api-key carries the bare key, the client's is gone", async () => {
    const url = await gateway({
      key: { value: BACKEND_KEY, location: { header: { name: 'x-api-key', prefix: '' } } },
      strip: [{ header: { name: 'x-api-key' } }],
    });
    const received = await forwarded(url, { 'x-api-key': 'client-key' });
    expect(received.headers['x-api-key']).toBe(BACKEND_KEY);
    expect(received.rawHeaders.join('\n')).not.toContain('client-key');
  });

  it('passthrough: {} (agentgateway writes it so) forwards nothing when no token was validated', async () => {
    const url = await gateway({ passthrough: {} });
    const received = await forwarded(url, { authorization: 'Bearer client-token' });
    expect(received.headers.authorization).toBeUndefined();
  });

  it('gcp: { credential: { file } } is credentialsFile: the external_account file is exchanged', async () => {
    const subject = await fileWith(`subject-${framework.name}`, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJndyJ9.sig');
    const credential = await fileWith(
      `external-account-${framework.name}.json`,
      JSON.stringify({
        type: 'external_account',
        audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: googleSts.tokenUrl,
        credential_source: { file: subject },
      }),
    );
    const url = await gateway({ gcp: { credential: { file: credential } }, upstream: upstream.url });
    await forwarded(url);
    expect(googleSts.exchanges).toHaveLength(1);
    expect(authorizationOf(upstream)).toBe(`Bearer ${googleSts.federatedTokens[0]}`);
  });

  it('azure: { explicitConfig: { clientSecret: { tenant_id, client_id, client_secret } } } posts the client credentials', async () => {
    const entra = perTest.track(await startFakeEntra(TENANT));
    const url = await gateway({
      azure: {
        explicitConfig: {
          clientSecret: { tenant_id: TENANT, client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
        },
        authorityHost: entra.authorityHost,
      },
    });
    const received = await forwarded(url);
    expect(received.headers.authorization).toBe('Bearer eyJ.fake-entra-1');
    expect(Object.fromEntries(entra.requests[0]!.form)).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      scope: 'https://cognitiveservices.azure.com/.default',
    });
  });

  describe('with the AKS workload identity environment', () => {
    const names = ['AZURE_FEDERATED_TOKEN_FILE', 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID'] as const;
    beforeAll(async () => {
      process.env.AZURE_FEDERATED_TOKEN_FILE = await fileWith(`azure-token-${framework.name}`, ASSERTION);
      process.env.AZURE_TENANT_ID = TENANT;
      process.env.AZURE_CLIENT_ID = CLIENT_ID;
    });
    afterAll(() => {
      for (const name of names) delete process.env[name];
    });

    it.each([
      {
        shape: 'explicitConfig: { workloadIdentity: {} }',
        azure: { explicitConfig: { workloadIdentity: {} } },
      },
      { shape: 'implicit: {}', azure: { implicit: {} } },
    ])('azure: { $shape } sends the projected token as client_assertion', async ({ azure }) => {
      const entra = perTest.track(await startFakeEntra(TENANT));
      const url = await gateway({ azure: { ...azure, authorityHost: entra.authorityHost } });
      const received = await forwarded(url);
      expect(received.headers.authorization).toBe('Bearer eyJ.fake-entra-1');
      expect(Object.fromEntries(entra.requests[0]!.form)).toEqual({
        grant_type: 'client_credentials',
        client_id: CLIENT_ID,
        scope: 'https://cognitiveservices.azure.com/.default',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: ASSERTION,
      });
    });
  });

  it.each([
    {
      what: 'key: { file, location } (agentgateway would drop the location)',
      options: { key: { file: '/run/key', location: { header: { name: 'x-api-key' } } } },
      names: ['`key.location`', 'key: { value: { file }, location }'],
    },
    {
      what: 'key: { file, value }',
      options: { key: { file: '/run/key', value: BACKEND_KEY } },
      names: ['`key`', '`value`', '`file`'],
    },
    {
      what: 'a prefix of spaces only',
      options: { key: { value: BACKEND_KEY, location: { header: { name: 'x-api-key', prefix: '  ' } } } },
      names: ['`key.location.header.prefix`'],
    },
    {
      what: 'aws: { service, serviceName }',
      options: { aws: { region: 'us-east-1', service: 'bedrock', serviceName: 'bedrock' } },
      names: ['`aws`', '`service`', '`serviceName`'],
    },
    {
      what: "agentgateway's aws.assumeRole (no one-to-one counterpart)",
      options: { aws: { region: 'us-east-1', assumeRole: { roleArn: 'arn:aws:iam::1:role/r' } } },
      names: ['`aws.assumeRole`', 'profile'],
    },
    {
      what: 'an inline gcp.credential',
      options: { gcp: { credential: '{"type":"service_account"}' } },
      names: ['`gcp.credential`', '{ file }'],
    },
    {
      what: 'gcp: { credential, credentialsFile }',
      options: { gcp: { credential: { file: '/a.json' }, credentialsFile: '/b.json' } },
      names: ['`gcp`', '`credentialsFile`', '`credential`'],
    },
    {
      what: "agentgateway's azure managedIdentity (DefaultAzureCredential tries more)",
      options: { azure: { explicitConfig: { managedIdentity: {} } } },
      names: ['`azure.explicitConfig.managedIdentity`', 'azure: { clientId }'],
    },
    {
      what: "agentgateway's azure developerImplicit",
      options: { azure: { developerImplicit: {} } },
      names: ['`azure.developerImplicit`', 'azure: {}'],
    },
    {
      what: 'azure explicitConfig beside clientId',
      options: {
        azure: {
          explicitConfig: {
            clientSecret: { tenant_id: TENANT, client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
          },
          clientId: CLIENT_ID,
        },
      },
      names: ['`azure.explicitConfig`', '`azure.clientId`'],
    },
    {
      what: 'azure explicitConfig.clientSecret without tenant_id',
      options: {
        azure: { explicitConfig: { clientSecret: { client_id: CLIENT_ID, client_secret: CLIENT_SECRET } } },
      },
      names: ['`azure.explicitConfig.clientSecret.tenant_id`'],
    },
    {
      what: 'azure workloadIdentity where AKS set no token file',
      options: { azure: { explicitConfig: { workloadIdentity: {} } } },
      names: ['`azure.explicitConfig.workloadIdentity`', 'AZURE_FEDERATED_TOKEN_FILE'],
    },
    // What the option schemas check now that the hand-written checks did not.
    {
      what: 'azure implicit with options in it',
      options: { azure: { implicit: { clientId: CLIENT_ID } } },
      names: ['`azure.implicit`', 'must be {}'],
    },
    {
      what: 'an empty gcp scope',
      options: { gcp: { scopes: ['https://www.googleapis.com/auth/cloud-platform', ''] } },
      names: ['`gcp.scopes[1]`'],
    },
    {
      what: 'a web identity session name that is not a string',
      options: {
        aws: {
          region: 'us-east-1',
          webIdentity: { roleArn: 'arn:aws:iam::1:role/r', tokenFile: '/t', sessionName: 7 },
        },
      },
      names: ['`aws.webIdentity.sessionName`'],
    },
  ])('refuses $what at start-up, naming the field written', ({ options, names }) => {
    const error = configError(() =>
      framework.lib.backendAuth({ ...options, upstream: upstream.url } as BackendAuthOptions),
    );
    for (const name of names) expect(error.message).toContain(name);
    expect(error.message).not.toContain('key.value');
  });

  it('an empty prefix on an inbound location reads the bare header value', async () => {
    const auth = perTest.track(
      framework.lib.apiKeyAuth({
        keys: [{ name: 'alice', key: ALICE_KEY }],
        location: { header: { name: 'x-api-key', prefix: '' } },
      }),
    );
    const url = perTest.track(await framework.serve([auth])).url;
    const ok = await send(url, '/whoami', { headers: { 'x-api-key': ALICE_KEY } });
    expect(ok.status, ok.text).toBe(200);
    expect(JSON.parse(ok.text).auth).toMatchObject({ method: 'apiKey' });
    const wrong = await send(url, '/whoami', { headers: { 'x-api-key': `Bearer ${ALICE_KEY}` } });
    expect(wrong.status).toBe(401);
  });
});

// --- aws without a region: each Bedrock URL names the region it is signed for ------------------

/** Sends `prepared` to the fake at `fakeUrl` with the Host it was signed for (fetch cannot). */
function sendSignedTo(
  fakeUrl: string,
  prepared: { url: string; method: string; headers: Record<string, string>; body?: unknown },
): Promise<number> {
  const target = new URL(prepared.url);
  const fake = new URL(fakeUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: fake.hostname,
        port: fake.port,
        method: prepared.method,
        path: `${target.pathname}${target.search}`,
        headers: { ...prepared.headers, host: target.host },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(prepared.body as string | undefined);
  });
}

describe('backendCredentials({ aws }) without a region', () => {
  let bedrock: FakeBedrock;
  beforeAll(async () => {
    bedrock = await startFakeBedrock(
      { [AWS_KEY_ID]: { secretAccessKey: AWS_SECRET } },
      { service: 'bedrock', region: 'us-west-2' },
    );
  });
  afterAll(() => bedrock.close());
  const keys = { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET };

  it('is built without one, and signs for the region the Bedrock URL names at apply() (verified: 200)', async () => {
    const credentials = backendCredentials({ aws: keys });
    try {
      const prepared = await credentials.apply({
        method: 'POST',
        url: `https://bedrock-runtime.us-west-2.amazonaws.com${INVOKE}`,
        headers: { 'content-type': 'application/json' },
        body: messages('which region?'),
      });
      expect(prepared.headers.authorization).toContain('/us-west-2/bedrock/aws4_request');
      expect(await sendSignedTo(bedrock.url, prepared as never)).toBe(200);
      expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 200, reason: 'signature matches' });
    } finally {
      await credentials.close();
    }
  });

  it("web identity without a region (none in the environment either): the temporary key signs for the URL's region (200)", async () => {
    const stsBedrock = await startFakeBedrock(sts.keys, { service: 'bedrock', region: 'us-west-2' });
    const tokenFile = await fileWith('irsa-token', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.irsa');
    const role = 'arn:aws:iam::123456789012:role/api-backend-no-region';
    // No region anywhere but in the URL signed.
    const region = process.env.AWS_REGION;
    delete process.env.AWS_REGION;
    const credentials = backendCredentials({ aws: { webIdentity: { roleArn: role, tokenFile } } });
    try {
      const prepared = await credentials.apply({
        method: 'POST',
        url: `https://bedrock-runtime.us-west-2.amazonaws.com${INVOKE}`,
        headers: { 'content-type': 'application/json' },
        body: messages('web identity'),
      });
      expect(sts.callsFor(role)).toHaveLength(1);
      expect(prepared.headers.authorization).toContain('/us-west-2/bedrock/aws4_request');
      expect(await sendSignedTo(stsBedrock.url, prepared as never)).toBe(200);
    } finally {
      if (region !== undefined) process.env.AWS_REGION = region;
      await credentials.close();
      await stsBedrock.close();
      sts.reset();
    }
  });

  it('a URL whose region cannot be told: 502, and the log says to set aws.region', async () => {
    const logger = recorder();
    const credentials = backendCredentials({ aws: { ...keys, service: 'bedrock' }, logger });
    try {
      const failed = await credentials
        .apply({ method: 'POST', url: `${bedrock.url}${INVOKE}`, body: '{}' })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failed).toBeInstanceOf(AuthError);
      expect(failed).toMatchObject({ status: 502, code: 'backend_credentials_failed' });
      expect(logger.messages.join('\n')).toMatch(/no region for 127\.0\.0\.1: set aws\.region/);
      expect(logger.messages.join('\n')).not.toContain(AWS_SECRET);
    } finally {
      await credentials.close();
    }
  });

  it('a fixed upstream that names no region is still refused at start-up, naming aws.region', () => {
    const error = configError(() => backendCredentials({ aws: keys, upstream: 'https://llm.example.com' }));
    expect(error.message).toContain('`aws.region`');
  });
});

describe.each(all)('backendAuth aws without a region on $name', (framework) => {
  let upstream: RecordingUpstream;
  const opened = tracker();
  beforeAll(async () => {
    upstream = opened.track(await startRecordingUpstream());
  });
  afterAll(() => opened.closeAll());

  it('an upstream function naming Bedrock hosts: each request is signed for its own region', async () => {
    const logger = recorder();
    const middleware = opened.track(
      framework.lib.backendAuth({
        aws: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET },
        upstream: (request) =>
          request.url.startsWith('/eu')
            ? 'https://bedrock-runtime.eu-central-1.amazonaws.com'
            : request.url.startsWith('/us')
              ? 'https://bedrock-runtime.us-west-2.amazonaws.com'
              : 'https://llm.example.com',
        logger,
      }),
    );
    const url = opened.track(await framework.serve([middleware], { forwardTo: upstream.url })).url;
    for (const [path, region] of [
      ['/eu/invoke', 'eu-central-1'],
      ['/us/invoke', 'us-west-2'],
    ] as const) {
      const answer = await send(url, path, { body: '{}' });
      expect(answer.status, answer.text).toBe(200);
      expect(authorizationOf(upstream)).toContain(`/${region}/bedrock/aws4_request`);
    }
    const before = upstream.received.length;
    const unknown = await send(url, '/elsewhere', { body: '{}' });
    expectRefusal(unknown, 502, 'backend_credentials_failed', SECRETS);
    expect(upstream.received.length).toBe(before);
    expect(logger.messages.join('\n')).toContain('no region for llm.example.com: set aws.region');
  });
});
