import aws4 from 'aws4';
import { deleteHeader, headerSpellingKey, type MessageHead, setHeader } from '../../http/headers.js';
import type { ForwardedRequest } from '../forwarded.js';
import { CredentialFetchError } from '../refreshing.js';
import type { AwsCredentials } from './credential.js';

/**
 * A request target in the form it is both signed and sent: WHATWG-normalized (dot segments
 * resolved, `{ } "` escaped), then with what aws4 would escape again (`|`, non-ASCII) escaped
 * already. Idempotent, so the proxy and the signature see the same bytes.
 */
function signablePathAndQuery(target: string): string {
  const url = new URL(target, 'http://signing.invalid');
  let path = url.pathname;
  if (/[^0-9A-Za-z;,/?:@&=+$\-_.!~*'()#%]/.test(path)) path = encodeURI(decodeURI(path));
  return `${path}${url.search}`;
}

/** x-amz-date: basic ISO 8601, to the second. */
function amzDate(now: Date): string {
  return now.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/**
 * The URL the request will be signed for. The path is sent as it is signed: normalized once,
 * here, for the proxy and aws4 alike.
 */
export function signableUrl(request: ForwardedRequest): URL {
  try {
    const sent = request.message.url ?? '/';
    if (signablePathAndQuery(sent) !== sent) request.editUrl(signablePathAndQuery);
  } catch {
    throw new CredentialFetchError('the request path cannot be signed as sent', 'refused');
  }
  const url = request.upstreamUrl();
  if (url === undefined) throw new CredentialFetchError('no upstream URL to sign', 'refused');
  return url;
}

/**
 * Removes the client's own signing headers (any spelling: `x_amz_date`): they would be signed
 * along, or contradict ours.
 */
export function removeClientSigning(message: MessageHead): void {
  for (const name of Object.keys(message.headers)) {
    if (headerSpellingKey(name).startsWith('x-amz-')) deleteHeader(message, name);
  }
}

/** Signs `request` (bound for `url`) with SigV4 and writes the signature headers. */
export function signRequest(
  request: ForwardedRequest,
  url: URL,
  scope: { region: string; service: string },
  body: Uint8Array,
  keys: AwsCredentials,
): void {
  const message = request.message;
  // Only host, content-type and x-amz-* are signed: a proxy may rewrite the rest
  // (content-length to chunked, connection, x-forwarded-*) without breaking the signature.
  const datetime = amzDate(new Date());
  const signed: Record<string, string> = { host: url.host, 'x-amz-date': datetime };
  const contentType = message.headers['content-type'];
  if (typeof contentType === 'string') signed['content-type'] = contentType;
  if (keys.sessionToken !== undefined) signed['x-amz-security-token'] = keys.sessionToken;
  const signer = new aws4.RequestSigner(
    {
      method: request.method,
      host: url.host,
      path: `${url.pathname}${url.search}`,
      service: scope.service,
      region: scope.region,
      headers: signed,
      body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
      doNotModifyHeaders: true,
    },
    keys,
  );
  // The signature and the x-amz-date header must come from one reading of the clock: aws4
  // would read it again, and a second (or a day) may turn in between.
  signer.datetime = datetime;
  const authorization = (signer.sign().headers as Record<string, string>).Authorization;
  if (authorization === undefined)
    throw new CredentialFetchError('SigV4 signing produced no signature', 'refused');
  for (const [name, value] of Object.entries(signed)) setHeader(message, name, value);
  setHeader(message, 'authorization', authorization);
}
