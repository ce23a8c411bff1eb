import { type Hint, withHints } from '../config/known-keys.js';
import { bounded, lockedTo, optionsObject, refined, refuse, text, whole, z } from '../config/schema.js';
import { type UrlOptionRules, urlOptionProblem } from '../config/url-option.js';
import type { DpopOptions } from '../jwt/dpop/options.js';
import { JWT_HINTS, type JwtAuthOptions, OWN_SHAPE, PROVIDER_SHAPE, partial } from '../jwt/options.js';

/**
 * mcpAuth's options are jwtAuth's (every key and claim option, derived from its schema, so an
 * option jwtAuth gains, such as `dpop` or `mtls`, reaches mcpAuth with no change here), minus
 * `location` and `mode`, plus what an MCP resource server declares about itself.
 */

/** Per-operation scopes: what an MCP request needs besides a valid token. */
export interface McpScopes {
  /** Needed by every request (GET streams and DELETE too). Also the 401 `scope` by default. */
  required?: readonly string[];
  /** By JSON-RPC method: `{ 'tools/list': ['mcp:read'] }`. */
  methods?: Readonly<Record<string, readonly string[]>>;
  /** By tool name, for `tools/call`: `{ deploy: ['deploy'] }`. */
  tools?: Readonly<Record<string, readonly string[]>>;
  /** Extra scopes to list in the metadata's `scopes_supported` (every scope above is listed). */
  supported?: readonly string[];
}

/** Entra ID v2 (Microsoft identity platform): `iss` is the tenant's v2 issuer, `aud` the app's client ID. */
export interface EntraPreset {
  /** The directory (tenant) ID, a GUID. */
  tenantId: string;
  /** The application (client) ID of the MCP server's app registration, a GUID: the tokens' `aud`. */
  clientId: string;
}

/** jwtAuth's `dpop`, with `publicUrl` defaulting to the origin of `resource`. */
export interface McpDpopOptions extends Omit<DpopOptions, 'publicUrl'> {
  /** The public origin (and optional base path) proofs' `htu` is built from. Default: the origin of `resource`. */
  publicUrl?: string;
}

/** Options of `mcpAuth()`. */
export interface McpAuthOptions extends Omit<JwtAuthOptions, 'location' | 'mode' | 'dpop'> {
  /**
   * The resource identifier (RFC 8707 / RFC 9728): the MCP endpoint's canonical URL, e.g.
   * `https://mcp.example.com/mcp`. https (http only for loopback hosts), no query, no fragment.
   * Tokens must name it in `aud` unless `audiences` or a preset says otherwise.
   */
  resource: string;
  /** Issuer URLs of the authorization servers clients get tokens from (RFC 9728 `authorization_servers`). */
  authorizationServers?: readonly string[];
  /** Entra ID v2: sets `issuer` and `audiences` (the client ID); `authorizationServers` defaults to the issuer. */
  entra?: EntraPreset;
  /** Scopes per method and per tool; see {@link McpScopes}. */
  scopes?: McpScopes;
  /** Largest JSON-RPC body read to find the operation's scopes. Default 1048576 (1 MiB). */
  maxBodyBytes?: number;
  /**
   * DPoP (RFC 9449) as on jwtAuth; the metadata then lists `dpop_signing_alg_values_supported`
   * and `dpop_bound_access_tokens_required`, and challenges add `DPoP algs="..."`.
   */
  dpop?: McpDpopOptions;
}

const STRINGS = 'must be an array of non-empty strings';
const strings = () => z.array(text(STRINGS), { error: STRINGS });
const scopeList = () =>
  z
    .array(
      text(STRINGS).refine((scope) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope), {
        error: 'must hold scope tokens (RFC 6749 section 3.3: printable ASCII, no space, quote or backslash)',
      }),
      { error: STRINGS },
    )
    .readonly();

const SCOPES = optionsObject(
  'scopes',
  {
    required: scopeList().optional(),
    methods: z.record(z.string(), scopeList(), { error: 'must map method names to scope lists' }).optional(),
    tools: z.record(z.string(), scopeList(), { error: 'must map tool names to scope lists' }).optional(),
    supported: scopeList().optional(),
  },
  { require: 'required', perMethod: 'methods', perTool: 'tools', scopesSupported: 'supported' },
);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const guid = (what: string) =>
  z
    .string({ error: `must be the ${what} GUID` })
    .regex(GUID, { error: `must be the ${what} GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)` });
const ENTRA = optionsObject(
  'entra',
  { tenantId: guid('directory (tenant) ID'), clientId: guid('application (client) ID') },
  {
    tenant: 'tenantId',
    client: 'clientId',
    appId: 'clientId',
    applicationId: 'clientId',
    audience: 'clientId',
  },
);

// `dpop` is checked by jwtAuth's own schema once its `publicUrl` default (the resource's origin)
// is filled in (src/mcp/mcp-auth.ts): its mistakes are named `dpop.<field>` all the same.
const { location: _location, dpop: _dpop, ...JWT_OWN } = OWN_SHAPE;

/** What mcpAuth refuses, and why: the MCP authorization spec fixes both. */
const MCP_HINTS: Readonly<Record<string, Hint>> = {
  location: {
    say: 'MCP clients send the access token in the Authorization header only (MCP authorization, "Token Requirements"): it is not configurable',
  },
  mode: {
    say: 'an MCP server refuses requests without a valid token (mode is always strict): use `publicPaths` for routes that need none',
  },
  resourceUrl: 'resource',
  resourceIdentifier: 'resource',
  audience: 'audiences',
  authorizationServer: 'authorizationServers',
  authorization_servers: 'authorizationServers',
  issuers: 'authorizationServers',
  scope: 'scopes',
  requiredScopes: 'scopes: { required }',
  toolScopes: 'scopes: { tools }',
  maxBody: 'maxBodyBytes',
  bodyLimit: 'maxBodyBytes',
};

export const MCP_AUTH_OPTIONS = refined(
  optionsObject(
    'mcpAuth',
    {
      ...partial(PROVIDER_SHAPE),
      ...JWT_OWN,
      dpop: z.custom<McpDpopOptions>().optional(),
      publicPaths: z.custom<JwtAuthOptions['publicPaths']>().optional(),
      delegateErrors: z.custom<JwtAuthOptions['delegateErrors']>().optional(),
      resource: z.string({ error: 'is required: the MCP endpoint URL clients call (RFC 8707 resource)' }),
      authorizationServers: whole(
        strings().min(1, { error: 'must list at least one authorization server issuer URL' }),
      )
        .readonly()
        .optional(),
      entra: ENTRA.optional(),
      scopes: SCOPES.optional(),
      maxBodyBytes: bounded(1, 64 * 1024 * 1024, 'must be a whole number of bytes from 1 to 67108864', {
        integer: true,
      }).optional(),
    },
    withHints(JWT_HINTS, MCP_HINTS),
  ),
  (options, ctx) => {
    const resourceProblem = urlOptionProblem(options.resource, RESOURCE_URL);
    if (resourceProblem !== undefined) return refuse(ctx, resourceProblem, 'resource');
    if (options.entra !== undefined) {
      const issuer = entraIssuer(options.entra.tenantId);
      if (options.providers !== undefined)
        return refuse(ctx, 'cannot be combined with `entra`: the preset is one provider', 'providers');
      if (options.issuer !== undefined && options.issuer !== issuer)
        return refuse(ctx, `conflicts with \`entra\`, whose issuer is ${issuer}: leave it out`, 'issuer');
      if (
        options.audiences !== undefined &&
        (options.audiences.length !== 1 ||
          options.audiences[0]!.toLowerCase() !== options.entra.clientId.toLowerCase())
      )
        return refuse(
          ctx,
          'conflicts with `entra`: Entra v2 tokens carry the client ID in `aud`; leave it out',
          'audiences',
        );
    } else if (options.authorizationServers === undefined) {
      return refuse(
        ctx,
        'is required: the issuer URL(s) clients get tokens from (RFC 9728)',
        'authorizationServers',
      );
    }
    for (const [index, server] of (options.authorizationServers ?? []).entries()) {
      const problem = urlOptionProblem(server, ISSUER_URL);
      if (problem !== undefined) return refuse(ctx, `[${index}] ${problem}`, 'authorizationServers');
    }
  },
);

lockedTo<McpAuthOptions, z.output<typeof MCP_AUTH_OPTIONS>>(true);

/** The Entra ID v2 issuer of a tenant. */
export function entraIssuer(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId.toLowerCase()}/v2.0`;
}

/** RFC 8707 section 2 and RFC 9728 section 1.2: an absolute https URL, no fragment (and no query, for MCP). */
const RESOURCE_URL: UrlOptionRules = {
  notAbsolute: 'must be an absolute URL (the MCP endpoint, e.g. https://mcp.example.com/mcp)',
  plainHttp: 'loopback',
  badScheme: 'must use https (plain http only for 127.0.0.0/8, [::1] or localhost)',
  credentials: 'must not contain a user name or password',
  fragment: 'must not contain a fragment (RFC 8707 section 2)',
  query: 'must not contain a query (MCP clients compare it with the server URL)',
  // MCP clients send `new URL(metadata.resource).href` as the RFC 8707 resource, which the
  // authorization server mints into `aud`: any other spelling would refuse every token.
  canonical: (href) =>
    `must be written in its canonical URL form "${href}" (clients ask for that string as the token audience)`,
};

/** RFC 8414 section 2: an https issuer URL with no query or fragment. */
const NO_QUERY = 'must not contain a query or fragment (RFC 8414)';
const ISSUER_URL: UrlOptionRules = {
  notAbsolute: 'is not an absolute URL',
  plainHttp: 'loopback',
  badScheme: 'must use https (plain http only for loopback hosts)',
  fragment: NO_QUERY,
  query: NO_QUERY,
};
