import { BodyReadError, readAndRestoreBody } from '../backend/body.js';
import { parseOptions } from '../config/schema.js';
import type { AuthError } from '../errors.js';
import type { InboundHandler } from '../factories.js';
import { canonicalPath } from '../http/canonical-path.js';
import { headerOccurrences } from '../http/headers.js';
import { queryOccurrences, withoutQueryParameter } from '../http/query.js';
import type { RequestHost } from '../http/request-host.js';
import { type Auth, MCP_METHOD } from '../identity.js';
import { Inbound, type InboundResult } from '../inbound.js';
import { ASYMMETRIC_ALGORITHMS } from '../jwt/algorithms.js';
import { JWT_SCHEME, jwtAuthenticator, jwtSchemeContext } from '../jwt/authenticator.js';
import { type JwtAuthOptions, mergedProviders } from '../jwt/options.js';
import type { TokenRevoker } from '../jwt/revocations.js';
import { type Logger, loggerOption } from '../logger.js';
import {
  type DpopAsking,
  type McpChallengeParts,
  mcpBodyRefusal,
  mcpInsufficientScope,
  mcpQueryToken,
  mcpRefusal,
} from '../refusals.js';
import {
  metadataAnswers,
  metadataDocument,
  metadataUrl,
  type ProtectedResourceMetadata,
  wellKnownPaths,
} from './metadata.js';
import {
  headerMismatch,
  type Mirrored,
  messagesOf,
  type Operation,
  parsedJson,
  readMirrored,
} from './operation.js';
import { entraIssuer, MCP_AUTH_OPTIONS, type McpAuthOptions, type McpScopes } from './options.js';

/** The jwt scheme under mcpAuth's name: its token is filed under 'mcp', which no passthrough forwards. */
const MCP_SCHEME = { ...JWT_SCHEME, method: MCP_METHOD };

const DEFAULT_MAX_BODY = 1024 * 1024;

/** The scopes of one operation: required, the method's, and the tool's for tools/call. */
class ScopeTable {
  private readonly required: readonly string[];
  private readonly methods: Readonly<Record<string, readonly string[]>>;
  private readonly tools: Readonly<Record<string, readonly string[]>>;
  /** Every scope named anywhere, and `supported`: the metadata's `scopes_supported`. */
  readonly supported: readonly string[];

  constructor(scopes: McpScopes = {}) {
    this.required = scopes.required ?? [];
    this.methods = scopes.methods ?? {};
    this.tools = scopes.tools ?? {};
    const all = new Set([...this.required, ...(scopes.supported ?? [])]);
    for (const list of [...Object.values(this.methods), ...Object.values(this.tools)])
      for (const scope of list) all.add(scope);
    this.supported = [...all];
  }

  get always(): readonly string[] {
    return this.required;
  }

  /** The union over `operations` (a batch asks for every message's scopes), in a stable order. */
  needed(operations: readonly Operation[]): string[] {
    const needed = new Set(this.required);
    for (const { method, name } of operations) {
      if (method === undefined) continue;
      // Own keys only: a method called `constructor` or `__proto__` names no configured scopes.
      if (Object.hasOwn(this.methods, method)) for (const scope of this.methods[method]!) needed.add(scope);
      if (method === 'tools/call' && name !== undefined && Object.hasOwn(this.tools, name))
        for (const scope of this.tools[name]!) needed.add(scope);
    }
    return [...needed];
  }
}

interface McpSettings {
  readonly paths: { inserted: string; root: string };
  readonly answers: ReturnType<typeof metadataAnswers>;
  readonly parts: McpChallengeParts;
  readonly scopes: ScopeTable;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
}

/**
 * mcpAuth's handler: the jwt pipeline (src/inbound.ts) with MCP around it. In order: the
 * metadata documents are answered; a query-string token is refused; the mirrored headers are
 * read (their scopes go in a 401's `scope`); the token is checked, its refusals rebuilt in the
 * MCP challenge form; then the body is read (bounded, or the body parser's result), checked
 * against the headers, and every scope the operation needs is required.
 */
export class McpInbound implements InboundHandler {
  constructor(
    private readonly inner: Inbound,
    private readonly settings: McpSettings,
  ) {}

  handle(host: RequestHost, existing: Auth | undefined): InboundResult | Promise<InboundResult> {
    const settings = this.settings;
    const message = host.message;
    const method = message.method ?? 'GET';
    const path = host.path;
    if (path !== undefined && this.isMetadataPath(path, host))
      return { answer: settings.answers.answer(method) };
    // MCP authorization: "Access tokens MUST NOT be included in the URI query string". Refused,
    // not passed on: a client sending one has leaked it already and must be told. Stripped all
    // the same before refusing (url, originalUrl and the frameworks' parsed views), so an error
    // handler or logger after us (delegateErrors) never sees the token.
    if (queryOccurrences(message.url ?? '', 'access_token').length > 0) {
      host.editUrl((url) => withoutQueryParameter(url, 'access_token'));
      return { error: mcpQueryToken(settings.parts) };
    }
    const mirrored: Mirrored = method === 'POST' ? readMirrored(message) : { kind: 'body' };
    // Read before the pipeline strips the token: a 403 answers in the scheme the client used.
    const presented = /^dpop\s/i.test(headerOccurrences(message, 'authorization')[0] ?? '')
      ? 'dpop'
      : 'bearer';
    const result = this.inner.handle(host, existing);
    if (result instanceof Promise)
      return result.then((settled) => this.after(settled, mirrored, host, method, presented));
    return this.after(result, mirrored, host, method, presented);
  }

  private isMetadataPath(path: string, host: RequestHost): boolean {
    const { inserted, root } = this.settings.paths;
    return path === canonicalPath(inserted, host.folding) || path === canonicalPath(root, host.folding);
  }

  private after(
    result: InboundResult,
    mirrored: Mirrored,
    host: RequestHost,
    method: string,
    presented: 'bearer' | 'dpop',
  ): InboundResult | Promise<InboundResult> {
    const settings = this.settings;
    if (result.error !== undefined) {
      // The scopes to ask for: the operation's when the headers say it, else the ones every request needs.
      const scope =
        mirrored.kind === 'headers' ? settings.scopes.needed([mirrored.operation]) : settings.scopes.always;
      return { error: mcpRefusal(result.error, settings.parts, scope) };
    }
    // A public path (the only way the strict pipeline goes on without an identity).
    if (result.answer !== undefined || result.auth === undefined) return result;
    const auth = result.auth;
    if (mirrored.kind === 'refused') return { error: mirrored.error };
    if (method !== 'POST') return this.scoped(auth, settings.scopes.always, result, presented);
    return this.operations(host, mirrored).then((read) => {
      if ('error' in read) return { error: read.error };
      return this.scoped(auth, settings.scopes.needed(read.operations), result, presented);
    });
  }

  private scoped(
    auth: Auth,
    needed: readonly string[],
    result: InboundResult,
    presented: 'bearer' | 'dpop',
  ): InboundResult {
    const granted = new Set(auth.scopes);
    if (needed.every((scope) => granted.has(scope))) return result;
    return { error: mcpInsufficientScope(needed, this.settings.parts, presented) };
  }

  /** The JSON-RPC messages of the body, checked against the mirrored headers. */
  private async operations(
    host: RequestHost,
    mirrored: Mirrored,
  ): Promise<{ operations: Operation[] } | { error: AuthError }> {
    const body = await this.body(host);
    if ('error' in body) return body;
    const read = messagesOf(body.value);
    if ('error' in read) return read;
    if (mirrored.kind === 'headers') {
      const error = headerMismatch(mirrored.operation, read.messages, read.ids);
      if (error !== undefined) return { error };
    }
    return { operations: read.messages };
  }

  /**
   * The parsed body: a body parser's result when one ran (the app acts on that value, so that
   * is what is authorized), else the raw bytes, read up to maxBodyBytes and put back for the
   * MCP transport behind us.
   */
  private async body(host: RequestHost): Promise<{ value: unknown } | { error: AuthError }> {
    const parsed = host.parsedBody;
    if (parsed !== undefined) {
      const value = parsed.value;
      if (typeof value === 'string') return parsedJson(value);
      if (value instanceof Uint8Array) return parsedJson(Buffer.from(value).toString('utf8'));
      return { value };
    }
    const message = host.message;
    if (message.readableDidRead || message.readableEnded) {
      this.settings.logger.warn(
        'mcpAuth: the request body was read before mcpAuth and left no parsed body: mount mcpAuth before the body parser, or after express.json() / a Koa JSON body parser',
      );
      return { error: mcpBodyRefusal('unreadable') };
    }
    if (isEncoded(message)) return { error: mcpBodyRefusal('encoded') };
    try {
      const bytes = await readAndRestoreBody(message, this.settings.maxBodyBytes);
      return parsedJson(bytes.toString('utf8'));
    } catch (error) {
      return {
        error: mcpBodyRefusal(
          error instanceof BodyReadError && error.reason === 'too_large' ? 'too_large' : 'unreadable',
        ),
      };
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** A handler that answers the metadata documents and lets everything else through. */
  metadataOnly(): InboundHandler {
    return {
      handle: (host) => {
        const path = host.path;
        if (path !== undefined && this.isMetadataPath(path, host))
          return { answer: this.settings.answers.answer(host.message.method ?? 'GET') };
        return { auth: undefined };
      },
      close: () => Promise.resolve(),
    };
  }
}

/**
 * Whether the raw body is content-coded (RFC 9110 section 8.4): any coding but `identity`, in any
 * header line. Such a body is not JSON as sent, and mcpAuth never inflates one itself.
 */
function isEncoded(message: RequestHost['message']): boolean {
  return headerOccurrences(message, 'content-encoding').some((line) =>
    line.split(',').some((coding) => {
      const name = coding.trim().toLowerCase();
      return name !== '' && name !== 'identity';
    }),
  );
}

/** The jwtAuth options mcpAuth runs the token check with: audiences default to the resource. */
function jwtOptionsOf(given: McpAuthOptions): JwtAuthOptions {
  const {
    resource,
    authorizationServers: _servers,
    entra,
    scopes: _scopes,
    maxBodyBytes: _max,
    dpop,
    ...jwt
  } = given;
  const options: JwtAuthOptions = { ...jwt };
  // DPoP's htu is the resource's origin plus the request path unless said otherwise.
  if (dpop !== undefined)
    options.dpop =
      typeof dpop === 'object' && dpop !== null && dpop.publicUrl === undefined
        ? { ...dpop, publicUrl: new URL(resource).origin }
        : (dpop as JwtAuthOptions['dpop']);
  if (entra !== undefined) {
    options.issuer = entraIssuer(entra.tenantId);
    // Entra writes GUIDs in lower case in `aud`; the preset accepts them in any case.
    options.audiences = [entra.clientId.toLowerCase()];
  } else if (options.providers !== undefined) {
    // RFC 8707: every provider's tokens must be minted for this resource unless it says otherwise.
    options.providers = options.providers.map((provider) =>
      provider.audiences === undefined ? { ...provider, audiences: [resource] } : provider,
    );
  } else {
    options.audiences ??= [resource];
  }
  return options;
}

/** The algorithms tokens may be signed with, for the metadata. */
function algorithmsOf(options: JwtAuthOptions): string[] {
  const all = new Set<string>();
  for (const provider of mergedProviders(options))
    for (const alg of provider.algorithms ?? ASYMMETRIC_ALGORITHMS) all.add(alg);
  return [...all];
}

/** Builds mcpAuth's handler and its metadata document; every option is checked here, at start-up. */
export function mcpInbound(given: McpAuthOptions): {
  inbound: McpInbound;
  revocations: TokenRevoker;
  metadata: ProtectedResourceMetadata;
} {
  const options = parseOptions(MCP_AUTH_OPTIONS, given);
  const jwt = jwtOptionsOf(given);
  let revocations: TokenRevoker | undefined;
  // The DPoP options as the jwt scheme checked them (jwtSchemeContext): read once, used here too.
  let dpop: DpopAsking | undefined;
  const inner = Inbound.scheme(
    jwt,
    MCP_SCHEME,
    (context) => {
      dpop = context.dpop;
      const authenticator = jwtAuthenticator(jwt, context);
      revocations = authenticator.revocations;
      return authenticator;
    },
    jwtSchemeContext,
  );
  const scopes = new ScopeTable(options.scopes);
  const resource = options.resource;
  const metadata = metadataDocument({
    resource,
    authorizationServers: options.authorizationServers ?? [jwt.issuer as string],
    scopesSupported: scopes.supported,
    algorithms: algorithmsOf(jwt),
    mtls: given.mtls !== undefined,
    ...(dpop === undefined ? {} : { dpop: { algorithms: dpop.algorithms, required: dpop.required } }),
  });
  const inbound = new McpInbound(inner, {
    paths: wellKnownPaths(resource),
    answers: metadataAnswers(metadata),
    parts: {
      metadataUrl: metadataUrl(resource),
      realm: options.realm,
      dpop: dpop === undefined ? undefined : { challenge: dpop.challenge, required: dpop.required },
    },
    scopes,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
    logger: loggerOption(options.logger),
  });
  return { inbound, revocations: revocations!, metadata };
}
