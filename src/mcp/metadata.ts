import type { Answer } from '../inbound.js';

/**
 * RFC 9728 protected-resource metadata, built once from the options, and the two well-known
 * URLs it is served at: the path-inserted form (section 3.1: the well-known segment between
 * the host and the resource's path) that MCP clients try first, and the root form they fall
 * back to. The URL named in challenges is built from `resource`, never from the Host header.
 */

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** The RFC 9728 document; the DPoP and mTLS members only when those are on. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported: readonly string[];
  readonly bearer_methods_supported: readonly ['header'];
  readonly resource_signing_alg_values_supported: readonly string[];
  readonly dpop_signing_alg_values_supported?: readonly string[];
  readonly dpop_bound_access_tokens_required?: boolean;
  readonly tls_client_certificate_bound_access_tokens?: boolean;
}

/** What the metadata is built from, already checked. */
export interface MetadataSource {
  resource: string;
  authorizationServers: readonly string[];
  scopesSupported: readonly string[];
  algorithms: readonly string[];
  dpop?: { algorithms: readonly string[]; required: boolean };
  mtls?: boolean;
}

export function metadataDocument(source: MetadataSource): ProtectedResourceMetadata {
  const document: ProtectedResourceMetadata = {
    resource: source.resource,
    authorization_servers: Object.freeze([...source.authorizationServers]),
    scopes_supported: Object.freeze([...source.scopesSupported]),
    bearer_methods_supported: Object.freeze(['header'] as const),
    resource_signing_alg_values_supported: Object.freeze([...source.algorithms]),
    ...(source.dpop === undefined
      ? {}
      : {
          dpop_signing_alg_values_supported: Object.freeze([...source.dpop.algorithms]),
          dpop_bound_access_tokens_required: source.dpop.required,
        }),
    ...(source.mtls === true ? { tls_client_certificate_bound_access_tokens: true } : {}),
  };
  return Object.freeze(document);
}

/** The path-inserted well-known path of `resource` (`/mcp` -> `/.well-known/oauth-protected-resource/mcp`). */
export function wellKnownPaths(resource: string): { inserted: string; root: string } {
  const path = new URL(resource).pathname;
  // RFC 9728 section 3.1: a trailing slash of the resource's path is not part of the suffix.
  const suffix = path === '/' ? '' : path.replace(/\/$/, '');
  return { inserted: `${WELL_KNOWN}${suffix}`, root: WELL_KNOWN };
}

/** The metadata URL named in `resource_metadata` of every challenge. */
export function metadataUrl(resource: string): string {
  return `${new URL(resource).origin}${wellKnownPaths(resource).inserted}`;
}

// MCP clients run in browsers too: the document is public, so any origin may read it.
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'mcp-protocol-version',
  'access-control-max-age': '86400',
};

/** The answers for one document: GET/HEAD, the preflight, and 405 for any other method. */
export function metadataAnswers(document: ProtectedResourceMetadata): {
  answer(method: string): Answer;
} {
  const body = JSON.stringify(document);
  const ok: Answer = {
    status: 200,
    headers: {
      ...CORS,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'public, max-age=3600',
    },
    body,
  };
  const preflight: Answer = { status: 204, headers: CORS, body: '' };
  const notAllowed: Answer = {
    status: 405,
    headers: { ...CORS, allow: 'GET, HEAD, OPTIONS', 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: 'method_not_allowed', error_description: 'Use GET' }),
  };
  return {
    answer(method) {
      if (method === 'GET' || method === 'HEAD') return ok;
      if (method === 'OPTIONS') return preflight;
      return notAllowed;
    },
  };
}
