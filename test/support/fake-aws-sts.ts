import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeAwsKey } from './fake-bedrock.js';
import { closeServer, listenOnLoopback } from './loopback.js';

/** One STS call as the fake received it. */
export interface StsCall {
  method: string;
  path: string;
  contentType: string | undefined;
  /** Whether the call came signed (AssumeRoleWithWebIdentity needs no AWS credentials). */
  authorization: string | undefined;
  form: URLSearchParams;
}

/** Temporary credentials the fake issued. */
export interface IssuedSession {
  /** The role and session they were issued for. */
  roleArn: string;
  sessionName: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface FakeAwsSts {
  /** `http://127.0.0.1:<port>`, for AWS_ENDPOINT_URL_STS. */
  url: string;
  /** Every POST it received, in order (answered or refused). */
  calls: StsCall[];
  /** Temporary credentials issued, in order. */
  issued: IssuedSession[];
  /**
   * Every temporary key issued so far, as the fake Bedrock takes them: pass this very object to
   * `startFakeBedrock`, and the keys STS issues later are known to Bedrock too.
   */
  keys: Record<string, FakeAwsKey>;
  /** Lifetime of the credentials it issues, in seconds (default an hour). */
  lifetimeSeconds: number;
  /** Refuse the next calls with this STS error (`AccessDenied` is a 403), until cleared. */
  refuseWith?: { status: number; code: string };
  /** Answers wait for this first (to let concurrent callers pile up). */
  gate?: Promise<void>;
  /** The calls that asked for `roleArn` (a test's own role keeps stray calls out of its count). */
  callsFor(roleArn: string): StsCall[];
  /** The credentials issued for `roleArn`, in order. */
  issuedFor(roleArn: string): IssuedSession[];
  /** Forgets the calls and restores the defaults (issued keys stay known). */
  reset(): void;
  close(): Promise<void>;
}

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

function xmlEscape(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );
}

function errorXml(code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

/**
 * A fake AWS STS endpoint that answers AssumeRoleWithWebIdentity (the AWS Query protocol: a form
 * POST, an XML answer) with fresh temporary credentials, and refuses every other action.
 */
export async function startFakeAwsSts(): Promise<FakeAwsSts> {
  const fake: FakeAwsSts = {
    url: '',
    calls: [],
    issued: [],
    keys: {},
    lifetimeSeconds: 3600,
    callsFor: (roleArn) => fake.calls.filter((call) => call.form.get('RoleArn') === roleArn),
    issuedFor: (roleArn) => fake.issued.filter((session) => session.roleArn === roleArn),
    reset() {
      fake.calls.length = 0;
      fake.lifetimeSeconds = 3600;
      fake.refuseWith = undefined;
      fake.gate = undefined;
    },
    close: () => closeServer(server),
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const call: StsCall = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        form,
      };
      fake.calls.push(call);
      const requestId = `c6104cbe-af31-11e0-8154-${String(fake.calls.length).padStart(12, '0')}`;
      const reply = (status: number, body: string) => {
        res.statusCode = status;
        res.setHeader('content-type', 'text/xml');
        res.setHeader('x-amzn-requestid', requestId);
        res.end(body);
      };
      void (fake.gate ?? Promise.resolve()).then(() => {
        if (call.method !== 'POST' || form.get('Action') !== 'AssumeRoleWithWebIdentity') {
          reply(400, errorXml('InvalidAction', `Could not find operation ${form.get('Action')}`, requestId));
          return;
        }
        const roleArn = form.get('RoleArn') ?? '';
        const token = form.get('WebIdentityToken') ?? '';
        const sessionName = form.get('RoleSessionName') ?? '';
        if (!/^arn:aws:iam::\d{12}:role\/.+$/.test(roleArn) || sessionName === '') {
          reply(400, errorXml('ValidationError', 'RoleArn or RoleSessionName is invalid', requestId));
          return;
        }
        if (token.split('.').length !== 3) {
          reply(400, errorXml('InvalidIdentityToken', 'Token is not a JWT', requestId));
          return;
        }
        if (fake.refuseWith !== undefined) {
          reply(
            fake.refuseWith.status,
            errorXml(
              fake.refuseWith.code,
              'Not authorized to perform sts:AssumeRoleWithWebIdentity',
              requestId,
            ),
          );
          return;
        }
        const serial = String(fake.issued.length + 1).padStart(4, '0');
        const session: IssuedSession = {
          roleArn,
          sessionName,
          accessKeyId: `ASIAFAKESTS00000${serial}`,
          secretAccessKey: `fakeStsSecret/${serial}/wJalrXUtnFEMIK7MDENGbPxRfiCY`,
          sessionToken: `FwoGZXIvYXdzEFAKEsts${serial}//////////wEaDFakeSessionToken+${serial}`,
          // Milliseconds are dropped, as STS does.
          expiration: new Date(Math.floor(Date.now() / 1000 + fake.lifetimeSeconds) * 1000),
        };
        fake.issued.push(session);
        fake.keys[session.accessKeyId] = {
          secretAccessKey: session.secretAccessKey,
          sessionToken: session.sessionToken,
        };
        const [, account, role] = /^arn:aws:iam::(\d{12}):role\/(.+)$/.exec(roleArn) ?? [];
        reply(
          200,
          `<AssumeRoleWithWebIdentityResponse xmlns="${NS}">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:gateway:portcullis</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${account}:assumed-role/${xmlEscape(role ?? '')}/${xmlEscape(sessionName)}</Arn>
      <AssumedRoleId>AROAFAKEROLEID000001:${xmlEscape(sessionName)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${xmlEscape(session.sessionToken)}</SessionToken>
      <SecretAccessKey>${xmlEscape(session.secretAccessKey)}</SecretAccessKey>
      <Expiration>${session.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration>
      <AccessKeyId>${session.accessKeyId}</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::${account}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/FAKE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`,
        );
      });
    });
  });
  await listenOnLoopback(server);
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
