import { basicChallenge, bearerChallenge, dpopChallenge, namedChallenge, withError } from './challenge.js';
import type { CredentialLocation, Locator } from './credentials/location.js';
import { type CredentialReader, readersOf } from './credentials/read-locations.js';
import { AuthError } from './errors.js';
import type { MessageHead } from './http/headers.js';
import type { Logger } from './logger.js';

/**
 * The catalogue of refusals: every `error` code portcullis sends, and the one place each
 * refusal's status, challenge and JSON body are built. Nothing else constructs an AuthError.
 *
 * The challenge rule (README "Rejections"):
 * - A scheme reading `Authorization` or `Proxy-Authorization` with its RFC prefix (`Bearer `,
 *   `Basic `) answers with that RFC's challenge. Every other location (a cookie, a query
 *   parameter, another header or prefix) gets the scheme's own named challenge
 *   (`ApiKey realm="api", header="x-api-key"`), which says where the credential goes and does
 *   not pretend to be RFC 6750.
 * - 407 and `Proxy-Authenticate` for a `Proxy-Authorization` location, 401 and
 *   `WWW-Authenticate` everywhere else, for every scheme.
 * - No error attributes when no credential was presented (RFC 6750 section 3.1). Once one
 *   was, a Bearer or named challenge carries `error` and `error_description`, and the
 *   challenge's `error` is always the body's `error`. A Bearer challenge speaks RFC 6750's
 *   codes only, so behind one a refused token or key is `invalid_token` (an expired one too:
 *   the description says so); `token_expired` and `invalid_credentials` are answered where no
 *   RFC fixes the vocabulary. A Basic challenge carries no error attributes (RFC 7617 has none).
 */
export type AuthErrorCode =
  | 'credentials_missing'
  | 'invalid_request'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'token_expired'
  | 'invalid_credentials'
  | 'insufficient_scope'
  | 'access_denied'
  | 'temporarily_unavailable'
  | 'request_too_large'
  | 'backend_credentials_unavailable'
  | 'backend_credentials_failed'
  | 'wrong_adapter';

/** Each code with the statuses it is sent with and what it means: the README table. */
export const AUTH_ERROR_CODES: Readonly<
  Record<AuthErrorCode, { statuses: readonly number[]; meaning: string }>
> = {
  credentials_missing: {
    statuses: [401, 407],
    meaning: 'no credential where a scheme expects one (or no identity at requireScopes/authorize)',
  },
  invalid_request: {
    statuses: [400, 401, 407, 415],
    meaning:
      'a credential sent twice, an ambiguous request, a token in an MCP query string, an MCP request whose headers and JSON-RPC body disagree or whose body is not JSON (400); a malformed or empty credential (401/407); an MCP body with a Content-Encoding and no body parser before mcpAuth (415)',
  },
  invalid_token: {
    statuses: [401, 407],
    meaning: 'a token (or any credential behind a Bearer challenge) refused',
  },
  invalid_dpop_proof: {
    statuses: [401],
    meaning: 'a DPoP proof (RFC 9449) missing, malformed, not signed right, or not for this request',
  },
  use_dpop_nonce: {
    statuses: [401],
    meaning: 'a DPoP proof without the nonce the server asks for; the DPoP-Nonce header carries it',
  },
  token_expired: { statuses: [401, 407], meaning: 'an expired JWT read from a non-Bearer location' },
  invalid_credentials: {
    statuses: [401, 407],
    meaning: 'a Basic password, or an API key or custom credential at a non-Bearer location, refused',
  },
  insufficient_scope: {
    statuses: [403],
    meaning: 'the identity lacks a scope requireScopes() names, or one an MCP operation needs (mcpAuth)',
  },
  access_denied: { statuses: [403], meaning: 'an authorize() rule refused the identity' },
  temporarily_unavailable: {
    statuses: [503],
    meaning: 'the credential cannot be checked now (key source down, hash pool full); Retry-After',
  },
  request_too_large: {
    statuses: [413],
    meaning: 'backendAuth must sign, or mcpAuth must read, a body larger than maxBodyBytes',
  },
  backend_credentials_unavailable: {
    statuses: [503],
    meaning: 'backendAuth cannot obtain the upstream credential right now; Retry-After',
  },
  backend_credentials_failed: {
    statuses: [502],
    meaning: 'backendAuth could not obtain the upstream credential (misconfiguration, refused)',
  },
  wrong_adapter: {
    statuses: [500],
    meaning: 'a portcullis/express middleware mounted on Koa, or a portcullis/koa one on Express',
  },
};

/**
 * What a scheme declares about how it asks for its credential, and nothing else about HTTP:
 * its RFC scheme (used at `Authorization` / `Proxy-Authorization` with that prefix) and the
 * name of its own challenge (used everywhere else).
 */
export interface ChallengeDeclaration {
  readonly standard: 'Bearer' | 'Basic';
  readonly named: string;
}

/** How one scheme, at one location and realm, asks for its credential: built once, at start-up. */
export interface Asking {
  readonly status: 401 | 407;
  readonly header: 'www-authenticate' | 'proxy-authenticate';
  readonly form: 'bearer' | 'basic' | 'named';
  /** The challenge without error attributes (no credential presented). */
  readonly challenge: string;
  /** DPoP beside (or, when required, instead of) Bearer: jwt at `Authorization` with `dpop`. */
  readonly dpop?: DpopAsking;
}

/** How a scheme that takes DPoP-bound tokens asks for them (RFC 9449 section 7.1). */
export interface DpopAsking {
  readonly realm: string;
  readonly algorithms: readonly string[];
  /** Only DPoP is accepted: no Bearer challenge is sent. */
  readonly required: boolean;
  /** `DPoP realm="...", algs="..."`. */
  readonly challenge: string;
}

/** The DPoP part of an {@link Asking}. */
export function dpopAsking(realm: string, algorithms: readonly string[], required: boolean): DpopAsking {
  return { realm, algorithms, required, challenge: dpopChallenge(realm, algorithms) };
}

function headerOf(location: CredentialLocation): { name: string; prefix: string } | undefined {
  if (!('header' in location)) return undefined;
  return {
    name: location.header.name.toLowerCase(),
    prefix: (location.header.prefix ?? '').trim().toLowerCase(),
  };
}

/** The rule above, for one scheme's declaration, location and (already checked) realm. */
export function askingFor(declared: ChallengeDeclaration, locator: Locator, realm: string): Asking {
  const header = headerOf(locator.location);
  const proxy = header?.name === 'proxy-authorization';
  const standard =
    header !== undefined &&
    (header.name === 'authorization' || proxy) &&
    header.prefix === declared.standard.toLowerCase();
  const form = standard ? (declared.standard === 'Bearer' ? 'bearer' : 'basic') : 'named';
  const challenge =
    form === 'bearer'
      ? bearerChallenge(realm)
      : form === 'basic'
        ? basicChallenge(realm)
        : namedChallenge(declared.named, realm, locator.location);
  return {
    status: proxy ? 407 : 401,
    header: proxy ? 'proxy-authenticate' : 'www-authenticate',
    form,
    challenge,
  };
}

/** What a scheme may answer for a credential it refuses: no status, no header, no AuthError. */
export type CredentialCode =
  | 'invalid_token'
  | 'token_expired'
  | 'invalid_credentials'
  | 'invalid_request'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

// RFC 6750 section 3.1: behind a Bearer challenge only these codes exist (RFC 9449 section 7.1
// adds its two to the DPoP challenge, which is a Bearer-form asking's other face).
const BEARER_CODE: Record<CredentialCode, AuthErrorCode> = {
  invalid_request: 'invalid_request',
  invalid_token: 'invalid_token',
  token_expired: 'invalid_token',
  invalid_credentials: 'invalid_token',
  invalid_dpop_proof: 'invalid_dpop_proof',
  use_dpop_nonce: 'use_dpop_nonce',
};

/** The code a refused credential gets behind this challenge: the body's and the challenge's. */
export function codeBehind(asking: Asking, code: CredentialCode): AuthErrorCode {
  return asking.form === 'bearer' ? BEARER_CODE[code] : code;
}

/**
 * A presented credential refused (401/407, or 400 for one sent twice), with the scheme's
 * challenge carrying the same `error` as the body (none for Basic).
 *
 * With DPoP (`asking.dpop`), the challenge follows the auth-scheme the client used
 * (`presented`, lower case): a token sent as `DPoP`, or any token when DPoP is required, gets
 * `DPoP realm, error, error_description, algs` alone; one sent as `Bearer` gets the Bearer
 * challenge with the error, then the plain DPoP challenge (RFC 9449 section 7.2: a client
 * may learn there that DPoP is accepted). `headers` are added as they are (`DPoP-Nonce`).
 */
export function credentialRefusal(
  asking: Asking,
  code: CredentialCode,
  description: string,
  status: 400 | 401 | 407 = asking.status,
  presented?: string,
  headers?: Readonly<Record<string, string>>,
): AuthError {
  const sent = codeBehind(asking, code);
  const dpop = asking.dpop;
  let challenge: string | string[];
  if (dpop !== undefined && asking.form === 'bearer') {
    challenge =
      presented === 'dpop' || dpop.required || code === 'invalid_dpop_proof' || code === 'use_dpop_nonce'
        ? dpopChallenge(dpop.realm, dpop.algorithms, { code: sent, description })
        : [withError(asking.challenge, sent, description), dpop.challenge];
  } else {
    challenge = asking.form === 'basic' ? asking.challenge : withError(asking.challenge, sent, description);
  }
  return new AuthError(status, sent, description, { ...headers, [asking.header]: challenge });
}

/**
 * No credential presented to any of `readers`: one refusal carrying each scheme's challenge
 * (without error attributes, RFC 6750 section 3.1), each in its own header value. 407 only
 * when every scheme reads a proxy credential.
 */
export function credentialsMissing(readers: readonly Pick<CredentialReader, 'asking'>[]): AuthError {
  const headers: Record<string, string[]> = {};
  for (const { asking } of readers) {
    const list = headers[asking.header] ?? [];
    const dpop = asking.dpop;
    const challenges =
      dpop === undefined
        ? [asking.challenge]
        : dpop.required
          ? [dpop.challenge]
          : [asking.challenge, dpop.challenge];
    for (const challenge of challenges) if (!list.includes(challenge)) list.push(challenge);
    headers[asking.header] = list;
  }
  const status = readers.every(({ asking }) => asking.status === 407) ? 407 : 401;
  return new AuthError(status, 'credentials_missing', 'Authentication is required', headers);
}

// With no inbound scheme in front at all, the client is told to bring a bearer token: the
// scheme every default location expects. "api" is the default realm of jwt, apiKey and custom.
const NO_SCHEME = [
  { asking: { status: 401, header: 'www-authenticate', form: 'bearer', challenge: bearerChallenge('api') } },
] as const satisfies readonly Pick<CredentialReader, 'asking'>[];

/**
 * What a step after authentication (requireScopes, authorize) answers when the request
 * reached it with no identity: 401 with the challenges of the schemes that ran on it (an
 * `optional` scheme that found nothing, a public path), or a plain Bearer challenge when none
 * did. Never 403: nobody was identified, so nobody was refused for who they are.
 */
export function authenticationRequired(message: MessageHead): AuthError {
  const readers = readersOf(message);
  return credentialsMissing(readers.length > 0 ? readers : NO_SCHEME);
}

/** A refusal that is not the client's fault: the key source is down, the hash pool is full. */
export function unavailable(retryAfterSeconds: number): AuthError {
  return new AuthError(
    503,
    'temporarily_unavailable',
    'The credential cannot be checked right now; retry later',
    {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
    },
  );
}

/**
 * An identity without every scope a step requires: 403, asking for the scopes in the challenge
 * of each scheme that ran on the request, by the challenge rule above: RFC 6750's
 * `Bearer error="insufficient_scope", scope="..."` behind `Authorization: Bearer`, the scheme's
 * own named challenge with the same attributes elsewhere (`ApiKey realm="api",
 * header="x-api-key", error="insufficient_scope", scope="..."`: a key or a session cookie is
 * not told to bring a bearer token), none for Basic (RFC 7617 has no error attributes, and a
 * 403 needs no challenge). With no scheme in front (an identity the app set), RFC 6750's. A jwt
 * scheme taking DPoP adds `DPoP realm="api", error="insufficient_scope", scope="...", algs="..."`
 * (alone when DPoP is required).
 */
export function insufficientScope(scopes: readonly string[], message: MessageHead): AuthError {
  const wanted = scopes.join(' ');
  const attributes = `error="insufficient_scope", scope="${wanted}"`;
  const readers = readersOf(message);
  const headers: Record<string, string[]> = {};
  const add = (header: string, challenge: string) => {
    const list = headers[header] ?? [];
    if (!list.includes(challenge)) list.push(challenge);
    headers[header] = list;
  };
  if (readers.length === 0) add('www-authenticate', `Bearer ${attributes}`);
  for (const { asking } of readers) {
    const dpop = asking.dpop;
    if (dpop !== undefined && asking.form === 'bearer') {
      // RFC 9449 section 7.1: the same attributes in the DPoP challenge, beside Bearer's
      // unless only DPoP is accepted.
      if (!dpop.required) add(asking.header, `Bearer ${attributes}`);
      add(asking.header, `DPoP realm="${dpop.realm}", ${attributes}, algs="${dpop.algorithms.join(' ')}"`);
    } else if (asking.form === 'bearer') add(asking.header, `Bearer ${attributes}`);
    else if (asking.form === 'named') add(asking.header, `${asking.challenge}, ${attributes}`);
  }
  return new AuthError(403, 'insufficient_scope', `This request needs the scope(s): ${wanted}`, headers);
}

/** An identity an authorize() rule refuses. 403 needs no challenge (RFC 7235 section 3.1 is 401's). */
export function accessDenied(): AuthError {
  return new AuthError(403, 'access_denied', 'Access to this resource is denied by policy');
}

// Requests that cannot be decided on without guessing which reading the app will use: 400
// `invalid_request`, as for a credential sent twice. Fixed sentences, no request text.

/** The request path is ambiguous or malformed. */
export function ambiguousPathError(): AuthError {
  return new AuthError(400, 'invalid_request', 'The request path is ambiguous or malformed');
}

/**
 * A rule reads the method, and the request asks for another one by an override
 * (`X-HTTP-Method-Override`, `_method`) that the app or an upstream may honour.
 */
export function overriddenMethodError(): AuthError {
  return new AuthError(400, 'invalid_request', 'The request asks for another method than its request line');
}

/** A query parameter a rule reads was sent more than once, or in a bracket form (`name[]`). */
export function repeatedQueryError(): AuthError {
  return new AuthError(400, 'invalid_request', 'A query parameter the policy reads was sent more than once');
}

/** A header a rule reads was sent more than once (or also under another spelling, `x_team`). */
export function repeatedHeaderError(): AuthError {
  return new AuthError(400, 'invalid_request', 'A header the policy reads was sent more than once');
}

/** An absolute-form target names another host than the Host header a rule reads. */
export function ambiguousHostError(): AuthError {
  return new AuthError(400, 'invalid_request', 'The request target and the Host header name different hosts');
}

/** Why backendAuth did not forward a request. */
export type BackendProblem = 'body_too_large' | 'body_unreadable' | 'unavailable' | 'failed';

/** backendAuth's refusals: no secret, no upstream text in any of them. */
export function backendRefusal(problem: BackendProblem): AuthError {
  switch (problem) {
    case 'body_too_large':
      return new AuthError(413, 'request_too_large', 'The request body is too large to sign');
    case 'body_unreadable':
      return new AuthError(400, 'invalid_request', 'The request body could not be read');
    case 'unavailable':
      return new AuthError(
        503,
        'backend_credentials_unavailable',
        'The upstream credential is unavailable; try again',
        { 'retry-after': '5' },
      );
    case 'failed':
      return new AuthError(
        502,
        'backend_credentials_failed',
        'The gateway could not obtain the upstream credential',
      );
  }
}

/**
 * Writes a refusal's reason to the debug log of every distinct logger among `readers` (anyAuth's
 * members usually share one), building the line only when one of them has a debug method: a
 * flood of refusals costs nothing otherwise. Reasons are fixed phrases and option names, never
 * request content.
 */
export function traceRefusal(readers: readonly Pick<CredentialReader, 'logger'>[], line: () => string): void {
  let text: string | undefined;
  const told: Logger[] = [];
  for (const { logger } of readers) {
    if (logger?.debug === undefined || told.includes(logger)) continue;
    told.push(logger);
    text ??= line();
    logger.debug(text);
  }
}

/** A refusal by a step after authentication, traced through the loggers of the schemes that ran. */
export function traceStepRefusal(
  message: MessageHead,
  step: string,
  error: AuthError,
  reason: string,
): AuthError {
  traceRefusal(readersOf(message), () => `${step}: refused with ${error.status} ${error.code} (${reason})`);
  return error;
}

/** A refusal ready to write: the adapters copy these three fields and nothing else. */
export interface Rejection {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/** JSON `{ error, error_description }`, never cached, never internals. */
export function renderRejection(error: AuthError): Rejection {
  return {
    status: error.status,
    headers: {
      ...error.headers,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    },
    body: JSON.stringify(error.body ?? { error: error.code, error_description: error.description }),
  };
}

// MCP servers (mcpAuth, src/mcp/): RFC 9728 section 5.1 puts `resource_metadata` in the Bearer
// challenge, and MCP 2025-11-25 the `scope` a client should ask for. The rule above holds: no
// `error` when no token was sent, the challenge's `error` is the body's.

/** What every challenge of one mcpAuth says about the server: its metadata URL, realm, DPoP. */
export interface McpChallengeParts {
  readonly metadataUrl: string;
  readonly realm: string | undefined;
  /** With `dpop`: the plain DPoP challenge (realm, algs), and whether Bearer is refused. */
  readonly dpop?: { readonly challenge: string; readonly required: boolean } | undefined;
}

function mcpBearer(parts: McpChallengeParts, scope: readonly string[]): string {
  const realm = parts.realm === undefined ? '' : `${bearerChallenge(parts.realm)}, `;
  const scoped = scope.length === 0 ? '' : `, scope=${quotedValue(scope.join(' '))}`;
  return `${realm === '' ? 'Bearer ' : realm}resource_metadata=${quotedValue(parts.metadataUrl)}${scoped}`;
}

function quotedValue(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** `resource_metadata` (RFC 9728 section 5.1 is not tied to Bearer) on a DPoP challenge that lacks it. */
function withMetadata(challenge: string, parts: McpChallengeParts): string {
  return challenge.includes('resource_metadata=')
    ? challenge
    : `${challenge}, resource_metadata=${quotedValue(parts.metadataUrl)}`;
}

/**
 * The pipeline's refusal of an MCP request, its Bearer challenge rebuilt in the MCP form:
 * `Bearer resource_metadata="...", scope="..."`, plus `error` and `error_description` once a
 * token was presented. A DPoP challenge (dpop on) is kept, with `resource_metadata` added when
 * no Bearer challenge carries it (`mode: 'required'`, a token sent as DPoP). Other refusals
 * (503) are kept as they are.
 */
export function mcpRefusal(error: AuthError, parts: McpChallengeParts, scope: readonly string[]): AuthError {
  const given = error.headers['www-authenticate'];
  if (given === undefined) return error;
  const bearer = mcpBearer(parts, scope);
  const challenge =
    error.code === 'credentials_missing' ? bearer : withError(bearer, error.code, error.description);
  const list = Array.isArray(given) ? given : [given];
  const hasBearer = list.some((value) => /^bearer(?:\s|$)/i.test(value));
  const values = list.map((value) =>
    /^bearer(?:\s|$)/i.test(value) ? challenge : hasBearer ? value : withMetadata(value, parts),
  );
  const headers = { ...error.headers, 'www-authenticate': values.length === 1 ? values[0]! : values };
  return new AuthError(error.status, error.code, error.description, headers);
}

/**
 * An MCP operation the token's scopes do not cover: 403 with every scope the operation needs
 * in one challenge (MCP 2025-11-25 step-up: the client asks for these, plus what it holds),
 * the same list in the body's `scope`. In the scheme the token came in: a DPoP-bound token is
 * answered `DPoP error="insufficient_scope", ...` (RFC 9449 section 7.1); a Bearer token
 * `Bearer error="insufficient_scope", ...`, with the plain DPoP challenge beside it when DPoP
 * is accepted too.
 */
export function mcpInsufficientScope(
  needed: readonly string[],
  parts: McpChallengeParts,
  presented: 'bearer' | 'dpop' = 'bearer',
): AuthError {
  const wanted = needed.join(' ');
  const description = `This operation needs the scope(s): ${wanted}`;
  const attributes = `error="insufficient_scope", scope=${quotedValue(wanted)}, resource_metadata=${quotedValue(parts.metadataUrl)}, error_description=${quotedValue(description)}`;
  const dpop = parts.dpop;
  const challenge =
    dpop !== undefined && (presented === 'dpop' || dpop.required)
      ? `${dpop.challenge}, ${attributes}`
      : dpop !== undefined
        ? [`Bearer ${attributes}`, dpop.challenge]
        : `Bearer ${attributes}`;
  return new AuthError(
    403,
    'insufficient_scope',
    description,
    { 'www-authenticate': challenge },
    { error: 'insufficient_scope', error_description: description, scope: wanted },
  );
}

/** A JSON-RPC id as a refusal may echo it: the request's, or null when it cannot be told. */
export type JsonRpcId = string | number | null;

/**
 * A request the MCP server must refuse in JSON-RPC terms (400): -32020 when the mirrored
 * `Mcp-Method` / `Mcp-Name` headers are missing or disagree with the body (MCP 2026-07-28),
 * -32700 for a body that is not JSON, -32600 for JSON that is no JSON-RPC message. The body
 * is the JSON-RPC error; `code` stays `invalid_request` for apps that delegate errors.
 */
export function jsonRpcRefusal(rpcCode: -32020 | -32700 | -32600, message: string, id: JsonRpcId): AuthError {
  return new AuthError(
    400,
    'invalid_request',
    message,
    {},
    { jsonrpc: '2.0', id, error: { code: rpcCode, message } },
  );
}

/** An access token in the query string of an MCP request: the spec forbids it (400, never stripped and passed). */
export function mcpQueryToken(parts: McpChallengeParts): AuthError {
  const description =
    'Access tokens are not accepted in the query string; send them in the Authorization header';
  return new AuthError(400, 'invalid_request', description, {
    'www-authenticate': withError(mcpBearer(parts, []), 'invalid_request', description),
  });
}

/**
 * Why mcpAuth could not read the body it needs for the operation's scopes. `encoded`: a body
 * with a Content-Encoding (gzip, br, deflate, ...) is never inflated by mcpAuth, so a small
 * request cannot make it inflate gigabytes: a body parser that inflates (with its own limit) must
 * run first, and mcpAuth then checks its result.
 */
export function mcpBodyRefusal(problem: 'too_large' | 'unreadable' | 'encoded'): AuthError {
  if (problem === 'too_large')
    return new AuthError(413, 'request_too_large', 'The request body is larger than this MCP server reads');
  if (problem === 'encoded')
    return new AuthError(
      415,
      'invalid_request',
      'The request body has a Content-Encoding: this server reads only identity-encoded bodies here (a body parser that inflates must run before mcpAuth)',
    );
  return new AuthError(400, 'invalid_request', 'The request body could not be read');
}
