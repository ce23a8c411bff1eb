import { writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AwsBackendOptions, type AzureBackendOptions, backendCredentials } from '../src/index.js';
import {
  authorizationOf,
  concurrently,
  expectRefusal,
  gateAfter,
  INVOKE,
  messages,
  send,
  tracker,
} from './support/backend-harness.js';
import { isolateAzure, startFakeTokenServices } from './support/cloud-env.js';
import { startFakeAzureMsi } from './support/fake-azure-msi.js';
import { type FakeBedrock, startFakeBedrock } from './support/fake-bedrock.js';
import { replaceByRename, tempDir } from './support/files.js';
import { frameworks } from './support/frameworks.js';
import { type RecordingUpstream, startRecordingUpstream } from './support/recording-upstream.js';
import { eventually, recorder, sleep } from './support/wait.js';

// The credential sources backendAuth reaches through the cloud SDKs (the optional peers), each
// against a fake of the real token service on 127.0.0.1, with no mocks: the SDKs make their
// own HTTP calls, pointed at the fakes only by the settings a deployment would use.
//   - AWS OIDC web identity (EKS IRSA), from `aws.webIdentity` or from the default chain's
//     AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE: the SDK calls STS AssumeRoleWithWebIdentity at
//     AWS_ENDPOINT_URL_STS; a fake Bedrock re-verifies SigV4 with the temporary key.
//   - Google workload identity federation: an `external_account` file whose `token_url` (and
//     `service_account_impersonation_url`) name a fake Google STS / IAM Credentials API.
//   - Azure managed identity: DefaultAzureCredential's App Service source at IDENTITY_ENDPOINT.
// Not here, because the libraries offer no way to point them at loopback short of faking TLS
// for Google's own hosts:
//   - a Google service account key file: google-auth-library 10's JWT client ignores the key's
//     `token_uri` (JWT.fromJSON, build/src/auth/jwtclient.js) and always posts to
//     https://oauth2.googleapis.com/token (build/src/gtoken/getToken.js);
//   - `gcp.impersonate`: the IAM Credentials endpoint is `https://iamcredentials.<universe>`
//     unless Impersonated's `endpoint` option is given, which portcullis does not pass.

// --- Environment: set before any credential library is loaded or any request is made --------

const tokens = await tempDir('portcullis-tokens-');

// AWS: nothing from this machine (no env keys, no profile, no IMDS, no container endpoint); STS
// is the fake. Google: only the files the tests give; no ADC file, no gcloud, no metadata server.
const { sts, googleSts, close: closeTokenServices } = await startFakeTokenServices();

// Azure: no service principal or workload identity in the environment; App Service's managed
// identity endpoint is the fake.
isolateAzure();
const IDENTITY_HEADER = 'fake-app-service-identity-header-7f3c9a';
const msi = await startFakeAzureMsi(IDENTITY_HEADER);
process.env.IDENTITY_ENDPOINT = msi.endpoint;
process.env.IDENTITY_HEADER = IDENTITY_HEADER;

afterAll(async () => {
  await closeTokenServices();
  await msi.close();
  await tokens.remove();
});

const ROLE_ARN = 'arn:aws:iam::123456789012:role/portcullis-gateway';
/** A projected service account token, as EKS writes it (no trailing newline). */
const WEB_IDENTITY_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UtZWtzIn0.eyJhdWQiOlsic3RzLmFtYXpvbmF3cy5jb20iXSwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmdhdGV3YXk6cG9ydGN1bGxpcyJ9.irsa-signature-1';
/** Static keys the machine might carry. Bedrock knows them too: only the key id tells the sources apart. */
const ENV_KEY_ID = 'AKIAENVIRONMENTKEY01';
const ENV_SECRET = 'envSecretKey/K7MDENG+bPxRfiCYEXAMPLEKEYenv';
const ROTATED_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UtZWtzIn0.eyJhdWQiOlsic3RzLmFtYXpvbmF3cy5jb20iXSwiaWF0IjoyfQ.irsa-signature-2';
const GOOGLE_AUDIENCE =
  '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/gateways/providers/eks';
const SUBJECT_TOKEN =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6Im9pZGMifQ.eyJpc3MiOiJodHRwczovL29pZGMuZWtzIiwic3ViIjoiZ2F0ZXdheSJ9.subject-signature';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const TARGET_SA = 'vertex-caller@fake-project.iam.gserviceaccount.com';
const USER_ASSIGNED_ID = '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

/** Token files the tests wrote; a gateway reads them through the SDKs. */
const tokenFile = async (name: string, content: string) => {
  const path = tokens.file(name);
  await writeFile(path, content);
  return path;
};

const all = await frameworks();

// --- AWS: OIDC web identity (AssumeRoleWithWebIdentity) ----------------------------------------

describe.each(all)(
  'backendAuth aws web identity on $name, via a fake STS and a fake Bedrock',
  (framework) => {
    let bedrock: FakeBedrock;
    const opened = tracker();
    const perTest = tracker();
    const logger = recorder();
    const scope = { region: 'us-east-1', service: 'bedrock' };
    // Each test assumes its own role, and counts only the STS calls for it: a renewal the SDK
    // starts in the background cannot land in the next test's count.
    let roles = 0;
    const nextRole = () => `${ROLE_ARN}-${framework.name}-${++roles}`;

    /** A gateway signing with `aws` in front of the fake Bedrock; `before` goes ahead of it. */
    async function gateway(aws: AwsBackendOptions, before: unknown[] = []): Promise<string> {
      const middleware = perTest.track(framework.lib.backendAuth({ aws, upstream: bedrock.url, logger }));
      return perTest.track(await framework.serve([...before, middleware], { forwardTo: bedrock.url })).url;
    }

    const invoke = (url: string, text: string, headers: Record<string, string> = {}) =>
      send(url, INVOKE, {
        headers: { 'content-type': 'application/json', ...headers },
        body: messages(text),
      });

    beforeAll(async () => {
      // sts.keys fills as STS issues temporary keys: Bedrock knows each one, with its session token.
      sts.keys[ENV_KEY_ID] = { secretAccessKey: ENV_SECRET };
      bedrock = opened.track(await startFakeBedrock(sts.keys));
    });
    afterEach(async () => {
      await perTest.closeAll();
      sts.reset();
      delete process.env.AWS_ROLE_ARN;
      delete process.env.AWS_WEB_IDENTITY_TOKEN_FILE;
      delete process.env.AWS_ROLE_SESSION_NAME;
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    });
    afterAll(() => opened.closeAll());

    it('exchanges the token file at STS and signs with the temporary key: Bedrock verifies it (200)', async () => {
      const role = nextRole();
      const file = await tokenFile(`irsa-${framework.name}-1`, WEB_IDENTITY_TOKEN);
      const url = await gateway({
        webIdentity: { roleArn: role, tokenFile: file, sessionName: 'gateway-pod-7' },
        ...scope,
      });
      const answer = await invoke(url, 'web identity', { authorization: 'Bearer client-token' });
      expect(answer.status).toBe(200);
      expect(bedrock.verdicts.at(-1)).toMatchObject({ status: 200, reason: 'signature matches' });

      expect(sts.callsFor(role)).toHaveLength(1);
      const [call] = sts.callsFor(role);
      expect(call!.method).toBe('POST');
      expect(call!.contentType).toMatch(/^application\/x-www-form-urlencoded/);
      // AssumeRoleWithWebIdentity is unsigned: the token is the credential.
      expect(call!.authorization).toBeUndefined();
      expect(Object.fromEntries(call!.form)).toEqual({
        Action: 'AssumeRoleWithWebIdentity',
        Version: '2011-06-15',
        RoleArn: role,
        RoleSessionName: 'gateway-pod-7',
        WebIdentityToken: WEB_IDENTITY_TOKEN,
      });

      const [session] = sts.issuedFor(role);
      const received = bedrock.last();
      expect(received.headers.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${session!.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$`,
        ),
      );
      expect(received.headers['x-amz-security-token']).toBe(session!.sessionToken);
      expect(received.rawHeaders.join('\n')).not.toContain('client-token');
      for (const secret of [session!.secretAccessKey, session!.sessionToken, WEB_IDENTITY_TOKEN]) {
        expect(answer.text).not.toContain(secret);
      }

      // The temporary credentials are good for an hour: the next request asks STS nothing.
      expect((await invoke(url, 'again')).status).toBe(200);
      expect(bedrock.verdicts.at(-1)?.status).toBe(200);
      expect(sts.callsFor(role)).toHaveLength(1);
    });

    it('10 concurrent requests: one AssumeRoleWithWebIdentity (default session name), all verified', async () => {
      const role = nextRole();
      const file = await tokenFile(`irsa-${framework.name}-2`, WEB_IDENTITY_TOKEN);
      const { gate, before } = gateAfter(framework, 10);
      sts.gate = gate;
      const url = await gateway({ webIdentity: { roleArn: role, tokenFile: file }, ...scope }, [before]);
      const start = bedrock.received.length;
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => invoke(url, `concurrent ${i}`)));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(sts.callsFor(role)).toHaveLength(1);
      expect(sts.callsFor(role)[0]!.form.get('RoleSessionName')).toBe('portcullis');
      const [session] = sts.issuedFor(role);
      const forwarded = bedrock.received.slice(start);
      expect(forwarded).toHaveLength(10);
      for (const received of forwarded) {
        expect(received.headers.authorization).toContain(`Credential=${session!.accessKeyId}/`);
        expect(received.headers['x-amz-security-token']).toBe(session!.sessionToken);
      }
      expect(bedrock.verdicts.slice(-10).map((verdict) => verdict.status)).toEqual(Array(10).fill(200));
    });

    it('the env form: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE with aws: { region, service } (200)', async () => {
      const role = nextRole();
      process.env.AWS_ROLE_ARN = role;
      process.env.AWS_WEB_IDENTITY_TOKEN_FILE = await tokenFile(`irsa-env-${framework.name}`, ROTATED_TOKEN);
      process.env.AWS_ROLE_SESSION_NAME = 'from-the-env';
      const url = await gateway(scope);
      const answer = await invoke(url, 'env web identity');
      expect(answer.status).toBe(200);
      expect(bedrock.verdicts.at(-1)?.status).toBe(200);
      expect(sts.callsFor(role)).toHaveLength(1);
      expect(Object.fromEntries(sts.callsFor(role)[0]!.form)).toEqual({
        Action: 'AssumeRoleWithWebIdentity',
        Version: '2011-06-15',
        RoleArn: role,
        RoleSessionName: 'from-the-env',
        WebIdentityToken: ROTATED_TOKEN,
      });
      const [session] = sts.issuedFor(role);
      expect(bedrock.last().headers.authorization).toContain(`Credential=${session!.accessKeyId}/`);
      expect(bedrock.last().headers['x-amz-security-token']).toBe(session!.sessionToken);
    });

    it('an explicit webIdentity is the source even with static keys in the environment', async () => {
      // The default chain would take these first and never call STS.
      process.env.AWS_ACCESS_KEY_ID = ENV_KEY_ID;
      process.env.AWS_SECRET_ACCESS_KEY = ENV_SECRET;
      const role = nextRole();
      const file = await tokenFile(`irsa-${framework.name}-5`, WEB_IDENTITY_TOKEN);
      const url = await gateway({ webIdentity: { roleArn: role, tokenFile: file }, ...scope });
      const answer = await invoke(url, 'precedence');
      expect(answer.status).toBe(200);
      expect(bedrock.verdicts.at(-1)?.status).toBe(200);
      expect(sts.callsFor(role)).toHaveLength(1);
      const [session] = sts.issuedFor(role);
      expect(bedrock.last().headers.authorization).toContain(`Credential=${session!.accessKeyId}/`);
      expect(bedrock.last().headers.authorization).not.toContain(ENV_KEY_ID);
    });

    it('STS refusing the role (403 AccessDenied): 502, nothing forwarded; the next request tries again (200)', async () => {
      const role = nextRole();
      const file = await tokenFile(`irsa-${framework.name}-3`, WEB_IDENTITY_TOKEN);
      const url = await gateway({ webIdentity: { roleArn: role, tokenFile: file }, ...scope });
      sts.refuseWith = { status: 403, code: 'AccessDenied' };
      const before = bedrock.received.length;
      const messagesBefore = logger.messages.length;
      const refused = await invoke(url, 'refused');
      expectRefusal(refused, 502, 'backend_credentials_failed', [WEB_IDENTITY_TOKEN]);
      expect(bedrock.received.length).toBe(before);
      expect(sts.callsFor(role)).toHaveLength(1);
      expect(sts.issuedFor(role)).toEqual([]);
      const logged = logger.messages.slice(messagesBefore).join('\n');
      expect(logged).toContain('AccessDenied');
      expect(logged).not.toContain(WEB_IDENTITY_TOKEN);

      sts.refuseWith = undefined;
      const ok = await invoke(url, 'allowed now');
      expect(ok.status).toBe(200);
      expect(bedrock.verdicts.at(-1)?.status).toBe(200);
      expect(sts.callsFor(role)).toHaveLength(2);
      expect(bedrock.last().headers.authorization).toContain(
        `Credential=${sts.issuedFor(role)[0]!.accessKeyId}/`,
      );
    });

    it('renews short-lived credentials before they expire, with the rotated token file', async () => {
      const role = nextRole();
      const file = await tokenFile(`irsa-${framework.name}-4`, WEB_IDENTITY_TOKEN);
      sts.lifetimeSeconds = 3;
      const url = await gateway({ webIdentity: { roleArn: role, tokenFile: file }, ...scope });
      expect((await invoke(url, 'first')).status).toBe(200);
      const [first] = sts.issuedFor(role);
      expect(bedrock.last().headers.authorization).toContain(`Credential=${first!.accessKeyId}/`);

      // The kubelet rotates the projected token; past half the lifetime a renewal starts.
      await replaceByRename(file, ROTATED_TOKEN);
      await sleep(1600);
      const renewed = await eventually(async () => {
        expect((await invoke(url, 'later')).status).toBe(200);
        expect(bedrock.verdicts.at(-1)?.status).toBe(200);
        return !String(bedrock.last().headers.authorization).includes(`Credential=${first!.accessKeyId}/`);
      });
      expect(renewed).toBe(true);
      const calls = sts.callsFor(role);
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(calls.slice(1).map((call) => call.form.get('WebIdentityToken'))).toEqual(
        Array(calls.length - 1).fill(ROTATED_TOKEN),
      );
    });
  },
);

// --- Google: external_account (workload identity federation) -------------------------------------

describe.each(all)('backendAuth gcp external_account on $name, via a fake Google STS', (framework) => {
  let upstream: RecordingUpstream;
  const opened = tracker();
  const perTest = tracker();
  const logger = recorder();
  let files = 0;

  /** An external_account file with a file-sourced subject token; `extra` adds fields. */
  async function credentialsFile(extra: Record<string, unknown> = {}): Promise<string> {
    files += 1;
    const subject = await tokenFile(`subject-${framework.name}-${files}`, SUBJECT_TOKEN);
    return tokenFile(
      `external-account-${framework.name}-${files}.json`,
      JSON.stringify({
        type: 'external_account',
        audience: GOOGLE_AUDIENCE,
        subject_token_type: JWT_TOKEN_TYPE,
        token_url: googleSts.tokenUrl,
        credential_source: { file: subject },
        ...extra,
      }),
    );
  }

  async function gateway(gcp: Record<string, unknown>, before: unknown[] = []) {
    const middleware = perTest.track(framework.lib.backendAuth({ gcp, upstream: upstream.url, logger }));
    return perTest.track(await framework.serve([...before, middleware], { forwardTo: upstream.url })).url;
  }

  beforeAll(async () => {
    upstream = opened.track(await startRecordingUpstream());
  });
  afterEach(async () => {
    await perTest.closeAll();
    googleSts.reset();
  });
  afterAll(() => opened.closeAll());

  it('exchanges the subject token file at token_url and forwards the federated access token', async () => {
    const url = await gateway({ credentialsFile: await credentialsFile() });
    const answer = await send(url, '/v1/projects/p/locations/us-central1/publishers/google/models', {
      headers: { authorization: 'Bearer client-token' },
    });
    expect(answer.status).toBe(200);
    expect(googleSts.exchanges).toHaveLength(1);
    const [exchange] = googleSts.exchanges;
    expect(exchange!.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(Object.fromEntries(exchange!.form)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: GOOGLE_AUDIENCE,
      scope: CLOUD_PLATFORM,
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: SUBJECT_TOKEN,
      subject_token_type: JWT_TOKEN_TYPE,
    });
    expect(authorizationOf(upstream)).toBe(`Bearer ${googleSts.federatedTokens[0]}`);
    expect(upstream.last().rawHeaders.join('\n')).not.toContain('client-token');
    expect(answer.text).not.toContain(SUBJECT_TOKEN);

    expect((await send(url, '/again')).status).toBe(200);
    expect(googleSts.exchanges).toHaveLength(1);
    expect(googleSts.strays).toEqual([]);
  });

  it('10 concurrent requests share one token exchange', async () => {
    const { gate, before } = gateAfter(framework, 10);
    googleSts.gate = gate;
    const url = await gateway({ credentialsFile: await credentialsFile() }, [before]);
    const start = upstream.received.length;
    const answers = await concurrently(url, 10);
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(googleSts.exchanges).toHaveLength(1);
    const forwarded = upstream.received.slice(start);
    expect(forwarded).toHaveLength(10);
    for (const received of forwarded) {
      expect(received.headers.authorization).toBe(`Bearer ${googleSts.federatedTokens[0]}`);
    }
  });

  it('with service_account_impersonation_url: generateAccessToken with the federated token and the scopes', async () => {
    const scopes = ['https://www.googleapis.com/auth/devstorage.read_only'];
    const file = await credentialsFile({
      service_account_impersonation_url: googleSts.impersonationUrl(TARGET_SA),
    });
    const url = await gateway({ credentialsFile: file, scopes });
    expect((await send(url, '/storage/v1/b/bucket/o')).status).toBe(200);
    // The exchange asks for cloud-platform (what generateAccessToken needs), not the scopes.
    expect(googleSts.exchanges).toHaveLength(1);
    expect(googleSts.exchanges[0]!.form.get('scope')).toBe(CLOUD_PLATFORM);
    expect(googleSts.generated).toHaveLength(1);
    const [generated] = googleSts.generated;
    expect(generated!.serviceAccount).toBe(TARGET_SA);
    expect(generated!.authorization).toBe(`Bearer ${googleSts.federatedTokens[0]}`);
    expect(generated!.body).toMatchObject({ scope: scopes, lifetime: '3600s' });
    expect(authorizationOf(upstream)).toBe(`Bearer ${googleSts.impersonatedTokens[0]}`);
    expect(upstream.last().rawHeaders.join('\n')).not.toContain(googleSts.federatedTokens[0]!);
  });

  it('token_url refusing the subject token (400 invalid_grant): 502, nothing forwarded; then 200', async () => {
    const url = await gateway({ credentialsFile: await credentialsFile() });
    googleSts.refuseWith = 'invalid_grant';
    const before = upstream.received.length;
    const refused = await send(url, '/v1/refused', {
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expectRefusal(refused, 502, 'backend_credentials_failed', [SUBJECT_TOKEN]);
    expect(upstream.received.length).toBe(before);
    expect(googleSts.exchanges.length).toBeGreaterThanOrEqual(1);

    googleSts.refuseWith = undefined;
    const ok = await send(url, '/v1/allowed');
    expect(ok.status).toBe(200);
    expect(authorizationOf(upstream)).toBe(`Bearer ${googleSts.federatedTokens.at(-1)}`);
  });
});

// --- Azure: managed identity (App Service) through DefaultAzureCredential -----------------------

describe.each(all)(
  'backendAuth azure managed identity on $name, via a fake App Service identity endpoint',
  (framework) => {
    let upstream: RecordingUpstream;
    const opened = tracker();
    const perTest = tracker();
    const logger = recorder();
    // MSAL keeps managed identity tokens in one process-wide cache, keyed by identity and
    // resource: each test asks for its own resource, so each one reaches the fake.
    let resources = 0;
    const nextScope = () => {
      resources += 1;
      const resource = `api://portcullis-${framework.name}-${resources}`;
      return { resource, scope: `${resource}/.default` };
    };

    async function gateway(azure: AzureBackendOptions, before: unknown[] = []) {
      const middleware = perTest.track(framework.lib.backendAuth({ azure, logger }));
      return perTest.track(await framework.serve([...before, middleware], { forwardTo: upstream.url })).url;
    }

    beforeAll(async () => {
      upstream = opened.track(await startRecordingUpstream());
    });
    afterEach(async () => {
      await perTest.closeAll();
      msi.reset();
      delete process.env.AZURE_TOKEN_CREDENTIALS;
    });
    afterAll(() => opened.closeAll());

    it('azure: { scope } without a secret: a token from IDENTITY_ENDPOINT for the resource, sent with IDENTITY_HEADER', async () => {
      const { resource, scope } = nextScope();
      const url = await gateway({ scope });
      const answer = await send(url, '/openai/deployments/gpt-4o/chat/completions', {
        headers: { 'content-type': 'application/json', authorization: 'Bearer client-token', 'api-key': 'k' },
        body: '{"messages":[]}',
      });
      expect(answer.status).toBe(200);
      expect(msi.requestsFor(resource)).toHaveLength(1);
      const [request] = msi.requestsFor(resource);
      expect(request!.method).toBe('GET');
      expect(request!.identityHeader).toBe(IDENTITY_HEADER);
      expect(Object.fromEntries(request!.query)).toEqual({ 'api-version': '2019-08-01', resource });
      expect(authorizationOf(upstream)).toBe(`Bearer ${msi.lastIssuedFor(resource)}`);
      expect(upstream.last().body).toBe('{"messages":[]}');
      expect(upstream.last().rawHeaders.join('\n')).not.toContain('client-token');
      expect(upstream.last().rawHeaders.join('\n')).not.toContain(IDENTITY_HEADER);
      expect(answer.text).not.toContain(IDENTITY_HEADER);

      expect((await send(url, '/again')).status).toBe(200);
      expect(msi.requestsFor(resource)).toHaveLength(1);
      expect(msi.strays).toEqual([]);
    });

    it('10 concurrent requests share one managed identity request', async () => {
      const { resource, scope } = nextScope();
      const { gate, before } = gateAfter(framework, 10);
      msi.gate = gate;
      const url = await gateway({ scope }, [before]);
      const start = upstream.received.length;
      const answers = await concurrently(url, 10, {
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(msi.requestsFor(resource)).toHaveLength(1);
      const forwarded = upstream.received.slice(start);
      expect(forwarded).toHaveLength(10);
      for (const received of forwarded)
        expect(received.headers.authorization).toBe(`Bearer ${msi.lastIssuedFor(resource)}`);
    });

    it('azure: { clientId } asks for that user-assigned identity (client_id)', async () => {
      const { resource, scope } = nextScope();
      const url = await gateway({ clientId: USER_ASSIGNED_ID, scope });
      expect((await send(url, '/user-assigned')).status).toBe(200);
      expect(msi.requestsFor(resource)).toHaveLength(1);
      expect(Object.fromEntries(msi.requestsFor(resource)[0]!.query)).toEqual({
        'api-version': '2019-08-01',
        resource,
        client_id: USER_ASSIGNED_ID,
      });
      expect(authorizationOf(upstream)).toBe(`Bearer ${msi.lastIssuedFor(resource)}`);
    });

    it('the identity endpoint refusing (400): 502, nothing forwarded; the next request tries again (200)', async () => {
      // Only the production chain (environment, workload identity, managed identity): after the
      // refusal, DefaultAzureCredential must not go on to a developer's Azure CLI login.
      process.env.AZURE_TOKEN_CREDENTIALS = 'prod';
      const { resource, scope } = nextScope();
      const url = await gateway({ scope });
      msi.refuse = true;
      const before = upstream.received.length;
      const refused = await send(url, '/refused', { body: '{}' });
      expectRefusal(refused, 502, 'backend_credentials_failed', [IDENTITY_HEADER]);
      expect(upstream.received.length).toBe(before);
      expect(msi.requestsFor(resource).length).toBeGreaterThanOrEqual(1);

      msi.refuse = undefined;
      const ok = await send(url, '/allowed');
      expect(ok.status).toBe(200);
      expect(authorizationOf(upstream)).toBe(`Bearer ${msi.lastIssuedFor(resource)}`);
    });

    it('the identity endpoint failing (500): 503 with Retry-After, nothing forwarded', async () => {
      process.env.AZURE_TOKEN_CREDENTIALS = 'prod';
      const { scope } = nextScope();
      const url = await gateway({ scope });
      msi.fail = true;
      const before = upstream.received.length;
      try {
        const failed = await send(url, '/failed', { body: '{}' });
        expectRefusal(failed, 503, 'backend_credentials_unavailable', [IDENTITY_HEADER]);
        expect(upstream.received.length).toBe(before);
      } finally {
        msi.fail = undefined;
      }
    });
  },
);

// --- The core API: backendCredentials().apply() + fetch -------------------------------------------

describe('backendCredentials().apply() with SDK credential sources', () => {
  afterEach(() => {
    sts.reset();
    msi.reset();
  });

  it('aws webIdentity: a request signed with STS credentials, which the fake Bedrock verifies (200)', async () => {
    const bedrock = await startFakeBedrock(sts.keys);
    const role = `${ROLE_ARN}-core`;
    const credentials = backendCredentials({
      aws: {
        webIdentity: { roleArn: role, tokenFile: await tokenFile('irsa-core', WEB_IDENTITY_TOKEN) },
        region: 'us-east-1',
        service: 'bedrock',
      },
    });
    try {
      const body = messages('core web identity');
      const prepared = await credentials.apply({
        method: 'POST',
        url: `${bedrock.url}${INVOKE}`,
        headers: { 'content-type': 'application/json' },
        body,
      });
      const [session] = sts.issuedFor(role);
      expect(sts.callsFor(role)).toHaveLength(1);
      expect(prepared.headers['x-amz-security-token']).toBe(session!.sessionToken);
      expect(prepared.headers.authorization).toContain(`Credential=${session!.accessKeyId}/`);
      const ok = await fetch(prepared.url, prepared);
      expect(ok.status).toBe(200);
      expect(bedrock.verdicts.at(-1)?.status).toBe(200);
      expect(bedrock.last().body).toBe(body);
    } finally {
      await credentials.close();
      await bedrock.close();
    }
  });

  it('azure: {} asks the managed identity endpoint for the default scope (Azure OpenAI)', async () => {
    const credentials = backendCredentials({ azure: {} });
    try {
      const prepared = await credentials.apply({
        method: 'POST',
        url: 'https://my-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions',
        headers: { 'content-type': 'application/json', 'api-key': 'client' },
        body: '{}',
      });
      expect(msi.requestsFor('https://cognitiveservices.azure.com')).toHaveLength(1);
      expect(prepared.headers.authorization).toBe(
        `Bearer ${msi.lastIssuedFor('https://cognitiveservices.azure.com')}`,
      );
    } finally {
      await credentials.close();
    }
  });
});
