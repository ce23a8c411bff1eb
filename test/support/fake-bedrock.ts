import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { type Received, type RecordingUpstream, startRecordingUpstream } from './recording-upstream.js';

/** What the fake knows of one access key, as IAM would. */
export interface FakeAwsKey {
  secretAccessKey: string;
  /** When set, requests signed with this key must carry (and sign) this token. */
  sessionToken?: string;
}

/** Why the fake accepted or refused one request. */
export interface BedrockVerdict {
  status: 200 | 403;
  reason: string;
  /** The Authorization the fake computed itself, when it got that far. */
  expected?: string;
}

export interface FakeBedrock extends RecordingUpstream {
  verdicts: BedrockVerdict[];
}

type SignableRequest = Parameters<SignatureV4['sign']>[0];

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/;

/** `20240620T101112Z` (x-amz-date) as a Date. */
function parseAmzDate(value: string): Date | undefined {
  const parts = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (parts === null) return undefined;
  const [, year, month, day, hour, minute, second] = parts.map(Number) as number[];
  return new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
}

/** The query as SigV4 signers take it: decoded names to decoded values. */
function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(search)) {
    const previous = query[name];
    if (previous === undefined) query[name] = value;
    else query[name] = Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return query;
}

function header(received: Received, name: string): string | undefined {
  const value = received.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Recomputes the request's SigV4 signature with the AWS SDK's own signer (@smithy/signature-v4)
 * from what actually arrived: method, the Host header, the path and query, only the headers the
 * request says it signed, and the body bytes.
 */
async function verify(
  received: Received,
  keys: Record<string, FakeAwsKey>,
  scope: { service: string; region: string },
): Promise<BedrockVerdict> {
  const authorization = header(received, 'authorization');
  const parsed = authorization === undefined ? null : AUTHORIZATION.exec(authorization);
  if (parsed === null) return { status: 403, reason: 'no SigV4 Authorization header' };
  const [, accessKeyId, , , , signedList] = parsed as unknown as string[];
  const key = keys[accessKeyId!];
  if (key === undefined) return { status: 403, reason: `unknown access key ${accessKeyId}` };
  const date = parseAmzDate(header(received, 'x-amz-date') ?? '');
  if (date === undefined) return { status: 403, reason: 'no x-amz-date' };
  const host = header(received, 'host');
  if (host === undefined) return { status: 403, reason: 'no Host header' };
  const signedNames = signedList!.split(';');
  if (!signedNames.includes('host')) return { status: 403, reason: 'host is not signed' };
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = header(received, name);
    if (value === undefined) return { status: 403, reason: `signed header ${name} is missing` };
    headers[name] = value;
  }
  const target = new URL(received.url, `http://${host}`);
  const request: SignableRequest = {
    method: received.method,
    protocol: 'http:',
    hostname: target.hostname,
    port: target.port === '' ? undefined : Number(target.port),
    path: received.url.split('?')[0]!,
    query: parseQuery(target.search),
    headers,
    body: Buffer.from(received.body, 'utf8'),
  };
  const signer = new SignatureV4({
    service: scope.service,
    region: scope.region,
    credentials: {
      accessKeyId: accessKeyId!,
      secretAccessKey: key.secretAccessKey,
      ...(key.sessionToken === undefined ? {} : { sessionToken: key.sessionToken }),
    },
    sha256: Hash.bind(null, 'sha256'),
    // The gateway signs no x-amz-content-sha256 header; the signer must not add one.
    applyChecksum: false,
  });
  const signed = await signer.sign(request, { signingDate: date });
  const expected = String(signed.headers.authorization);
  return expected === authorization
    ? { status: 200, reason: 'signature matches', expected }
    : { status: 403, reason: 'signature mismatch', expected };
}

/**
 * A fake Bedrock runtime: answers 200 JSON to a request whose SigV4 signature it can recompute
 * for `service`/`region` with one of `keys`, 403 JSON to anything else. Records every request.
 */
export async function startFakeBedrock(
  keys: Record<string, FakeAwsKey>,
  scope: { service: string; region: string } = { service: 'bedrock', region: 'us-east-1' },
): Promise<FakeBedrock> {
  const verdicts: BedrockVerdict[] = [];
  const upstream = await startRecordingUpstream((received, _req, res) => {
    verify(received, keys, scope)
      .catch((error: unknown) => ({ status: 403 as const, reason: `verifier failed: ${String(error)}` }))
      .then((verdict) => {
        verdicts.push(verdict);
        res.statusCode = verdict.status;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify(
            verdict.status === 200
              ? { id: `msg_${verdicts.length}`, type: 'message', content: [{ type: 'text', text: 'ok' }] }
              : { message: 'The request signature we calculated does not match the signature you provided.' },
          ),
        );
      });
    return true;
  });
  return Object.assign(upstream, { verdicts });
}
