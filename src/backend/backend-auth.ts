import { keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { flag, type Locked, optionsObject, parseOptions, z } from '../config/schema.js';
import { type CredentialLocation, type Locator, locator } from '../credentials/location.js';
import { readLocations } from '../credentials/read-locations.js';
import { type AuthError, ConfigError } from '../errors.js';
import { deleteHeader, type MessageHead, removeConnectionListed } from '../http/headers.js';
import type { RequestHost } from '../http/request-host.js';
import type { Auth } from '../identity.js';
import { type Logger, loggerOption } from '../logger.js';
import { backendRefusal } from '../refusals.js';
import { type AwsBackendOptions, awsKind } from './aws.js';
import { type AzureBackendOptions, azureKind } from './azure.js';
import { BodyReadError } from './body.js';
import {
  type ForwardedRequest,
  incomingForwarded,
  type OutgoingRequest,
  outgoingForwarded,
  type PreparedRequest,
  type UpstreamRequestView,
} from './forwarded.js';
import { type GcpBackendOptions, gcpKind } from './gcp.js';
import {
  type AnthropicPreset,
  type ApiKeyPreset,
  type KeyOption,
  keyOptionKind,
  type PassthroughBackendOptions,
  passthroughKind,
  presetKind,
} from './key.js';
import type { CredentialKind } from './kind.js';
import { credentialLocation } from './option-parts.js';
import { CredentialFetchError, failureReason } from './refreshing.js';

/** Exactly one credential kind. */
export type BackendCredentialOptions =
  | { key: KeyOption }
  | { passthrough: PassthroughBackendOptions | true }
  | { aws: AwsBackendOptions }
  | { gcp: GcpBackendOptions }
  | { azure: AzureBackendOptions }
  | { anthropic: AnthropicPreset }
  | { azureOpenAI: ApiKeyPreset }
  | { openai: ApiKeyPreset };

/** Options every kind shares. */
export interface BackendCommonOptions {
  /**
   * Where the proxy behind the middleware forwards: a base URL joined with the request's path
   * as http-proxy-middleware does, or a function of the request for several upstreams.
   * Needed by `aws` (it signs the URL) and by a `gcp` ID token without `audience`.
   */
  upstream?: string | URL | ((request: UpstreamRequestView) => string | URL);
  /**
   * More client credential locations to remove. Always removed: Authorization,
   * Proxy-Authorization and every location an inbound middleware read on this request.
   */
  strip?: CredentialLocation[];
  /** The largest body `aws` reads to sign; a larger one gets 413. Default 32 MiB. */
  maxBodyBytes?: number;
  /** Middleware: hand failures to the app's error handling instead of answering. */
  delegateErrors?: boolean;
  logger?: Logger;
}

/** Options of `backendAuth()` and `backendCredentials()`. */
export type BackendAuthOptions = BackendCredentialOptions & BackendCommonOptions;

/** What `apply()` also needs to know about the request being forwarded, when there is one. */
export interface ApplyContext {
  /** `req.auth` / `ctx.state.auth`: the token a passthrough forwards. */
  auth?: Auth;
  /** The incoming request (`req` / `ctx.req`): the locations its inbound schemes read are removed too. */
  incoming?: MessageHead;
}

const APPLY_CONTEXT_KEYS = keysOf<ApplyContext>()(
  'apply() context',
  { auth: true, incoming: true },
  { req: 'incoming', request: 'incoming', ctx: 'incoming', state: 'auth', identity: 'auth' },
);

const KINDS = ['key', 'passthrough', 'aws', 'gcp', 'azure', 'anthropic', 'azureOpenAI', 'openai'] as const;
type KindName = (typeof KINDS)[number];

/** A kind's options, read by its own schema once it is the one chosen (errors in that order). */
const kindOptions = () => z.unknown().optional();

/**
 * backendAuth's options: the common ones checked here, each kind's by its own schema
 * (key.ts, aws/options.ts, ...). Locations and the logger are checked by their one reader
 * (`locator()`, `loggerOption()`), which name mistakes at their own paths.
 */
const BACKEND_AUTH = optionsObject(
  'backendAuth',
  {
    key: kindOptions(),
    passthrough: kindOptions(),
    aws: kindOptions(),
    gcp: kindOptions(),
    azure: kindOptions(),
    anthropic: kindOptions(),
    azureOpenAI: kindOptions(),
    openai: kindOptions(),
    delegateErrors: flag().optional(),
    logger: z.custom<Logger>(() => true).optional(),
    upstream: z
      .custom<NonNullable<BackendCommonOptions['upstream']>>(
        (value) => typeof value === 'string' || value instanceof URL || typeof value === 'function',
        {
          error:
            'must be an absolute http(s) URL such as "https://api.openai.com/v1", or a function of the request',
        },
      )
      .optional(),
    strip: z.array(credentialLocation(), { error: 'must be an array of locations' }).optional(),
    maxBodyBytes: z.int({ error: 'must be a whole number of bytes' }).min(0).optional(),
  },
  {
    target: 'upstream',
    baseUrl: 'upstream',
    url: 'upstream',
    apiKey: { say: 'use `key: { value }`, or a preset such as `openai: { apiKey }`' },
    token: 'key',
    bearer: 'key',
    value: 'key: { value }',
    location: 'key: { value, location }',
    header: 'key: { value, location }',
    bedrock: 'aws',
    sigv4: 'aws',
    google: 'gcp',
    vertex: 'gcp',
    entra: 'azure',
    azureAd: 'azure',
    claude: 'anthropic',
    maxBody: 'maxBodyBytes',
    maxBodySize: 'maxBodyBytes',
    bodyLimit: 'maxBodyBytes',
  },
);
type ParsedOptions = z.output<typeof BACKEND_AUTH>;
// The documented common options and the schema describe one shape.
const commonLocked: Locked<BackendCommonOptions, Omit<ParsedOptions, KindName>> = true;
void commonLocked;

const DEFAULT_MAX_BODY = 32 * 1024 * 1024;

function chooseKind(options: ParsedOptions, upstream: URL | undefined, logger: Logger): CredentialKind {
  const named = KINDS.filter((name) => (options as Partial<Record<KindName, unknown>>)[name] !== undefined);
  if (named.length !== 1) {
    throw new ConfigError(
      named.length === 0 ? 'backendAuth' : named.join(' / '),
      `give exactly one of ${KINDS.join(', ')}`,
    );
  }
  const kind = named[0]!;
  const value = (options as Record<KindName, unknown>)[kind];
  switch (kind) {
    case 'key':
      return keyOptionKind(value, logger);
    case 'passthrough':
      return passthroughKind(value === true ? {} : (value as PassthroughBackendOptions));
    case 'aws':
      return awsKind(value as AwsBackendOptions, upstream, logger);
    case 'gcp':
      return gcpKind(value as GcpBackendOptions, logger);
    case 'azure':
      return azureKind(value as AzureBackendOptions, logger);
    default:
      return presetKind(kind, value as ApiKeyPreset, logger);
  }
}

function parseUpstream(value: string | URL, field: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  throw new ConfigError(field, 'must be an absolute http(s) URL such as "https://api.openai.com/v1"');
}

/** Why a request was not forwarded, as the response the client gets. No secret in any of it. */
function failure(error: unknown, kind: string, logger: Logger): AuthError {
  if (error instanceof BodyReadError && error.reason === 'too_large') return backendRefusal('body_too_large');
  if (error instanceof BodyReadError && error.reason === 'aborted') return backendRefusal('body_unreadable');
  if (error instanceof CredentialFetchError && error.kind === 'unavailable') {
    logger.warn(`backendAuth ${kind}: ${error.message}`);
    return backendRefusal('unavailable');
  }
  // A body a parser consumed before us is the gateway's own misconfiguration: the log says so.
  // Messages are portcullis's own (upstream pieces escaped where they enter); of any other
  // error only the class is logged.
  const reason = error instanceof BodyReadError ? error.message : failureReason(error);
  logger.warn(`backendAuth ${kind}: ${reason}`);
  return backendRefusal('failed');
}

/**
 * Puts the backend's credential on a request the gateway forwards, after removing the
 * client's. Used by the adapters' `backendAuth()` middleware (in front of a proxy) and, through
 * `apply()`, by code that builds its own outgoing request.
 */
export class BackendAuth {
  private readonly kind: CredentialKind;
  private readonly upstream: URL | ((request: UpstreamRequestView) => string | URL) | undefined;
  private readonly strip: Locator[];
  private readonly maxBodyBytes: number;
  private readonly logger: Logger;

  constructor(options: BackendAuthOptions) {
    const parsed = parseOptions(BACKEND_AUTH, options, '');
    this.logger = loggerOption(parsed.logger);
    const upstream = parsed.upstream;
    this.upstream =
      typeof upstream === 'function' || upstream === undefined
        ? upstream
        : parseUpstream(upstream, 'upstream');
    this.strip = (parsed.strip ?? []).map((location, index) => locator(location, `strip[${index}]`));
    this.maxBodyBytes = parsed.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.kind = chooseKind(parsed, this.upstream instanceof URL ? this.upstream : undefined, this.logger);
  }

  /** True when the middleware cannot work without `upstream`. */
  get needsUpstream(): boolean {
    return this.kind.needsUpstream && this.upstream === undefined;
  }

  /**
   * Prepares an outgoing request: the client's credentials removed, the backend's applied.
   * Throws an {@link AuthError} (502, 503, 413) when the credential cannot be had.
   */
  async apply(request: OutgoingRequest, context: ApplyContext = {}): Promise<PreparedRequest> {
    // `{ incomming: req }` would leave the client's API key (read by an inbound scheme) on the
    // request sent upstream without a word. Checked per call: for-in, no array on the usual path.
    if (typeof context !== 'object' || context === null)
      refuseUnknownKeys(context, APPLY_CONTEXT_KEYS, 'apply() context');
    for (const key in context) {
      if (key !== 'auth' && key !== 'incoming')
        refuseUnknownKeys(context, APPLY_CONTEXT_KEYS, 'apply() context');
    }
    let outgoing: ReturnType<typeof outgoingForwarded>;
    try {
      outgoing = outgoingForwarded(request);
    } catch {
      throw new TypeError('backendAuth.apply: request.url must be an absolute URL');
    }
    const error = await this.prepare(outgoing, context.incoming, context.auth);
    if (error !== undefined) throw error;
    return outgoing.prepared();
  }

  /** Middleware use: edits the incoming request in place for the proxy that forwards it. */
  async forward(host: RequestHost, auth: Auth | undefined): Promise<AuthError | undefined> {
    let base: URL | undefined;
    try {
      base = this.upstreamFor(host);
    } catch {
      this.logger.warn('backendAuth: the upstream function failed or returned no http(s) URL');
      return backendRefusal('failed');
    }
    return this.prepare(incomingForwarded(host, base, this.maxBodyBytes), host.message, auth);
  }

  close(): Promise<void> {
    this.kind.close();
    return Promise.resolve();
  }

  private upstreamFor(host: RequestHost): URL | undefined {
    const upstream = this.upstream;
    if (typeof upstream !== 'function') return upstream;
    const message = host.message;
    return parseUpstream(
      upstream({ method: message.method ?? 'GET', url: message.url ?? '/', headers: message.headers }),
      'upstream()',
    );
  }

  /** The one place a forwarded request loses the client's credentials and gains the backend's. */
  private async prepare(
    request: ForwardedRequest,
    incoming: MessageHead | undefined,
    auth: Auth | undefined,
  ): Promise<AuthError | undefined> {
    removeConnectionListed(request.message);
    deleteHeader(request.message, 'authorization');
    deleteHeader(request.message, 'proxy-authorization');
    if (incoming !== undefined) for (const read of readLocations(incoming)) read.strip(request);
    for (const extra of this.strip) extra.strip(request);
    try {
      await this.kind.apply(request, auth);
      return undefined;
    } catch (error) {
      return failure(error, this.kind.name, this.logger);
    }
  }
}

/**
 * The core form of `backendAuth`, for code that sends its own requests.
 *
 * @example
 * ```ts
 * const bedrock = backendCredentials({ aws: { region: 'us-east-1' } });
 * const prepared = await bedrock.apply({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body });
 * const answer = await fetch(prepared.url, prepared);
 * ```
 */
export function backendCredentials(options: BackendAuthOptions): BackendAuth {
  return new BackendAuth(options);
}
