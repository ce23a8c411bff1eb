import type { IncomingHttpHeaders } from 'node:http';
import type { EditableRequest } from '../credentials/location.js';
import { FORWARDER_HEADERS, headerSpellingKey, type MessageHead } from '../http/headers.js';
import type { RequestHost } from '../http/request-host.js';
import { readAndRestoreBody } from './body.js';

/** A request your code is about to send upstream: what `apply()` takes. */
export interface OutgoingRequest {
  /** Default `GET`. */
  method?: string;
  /** The absolute upstream URL. */
  url: string | URL;
  headers?:
    | Headers
    | Record<string, string | readonly string[] | undefined>
    | Iterable<readonly [string, string]>;
  /** The exact bytes to send; SigV4 signs them. */
  body?: string | Uint8Array | ArrayBuffer | null;
}

/** What `apply()` returns, ready for `fetch(prepared.url, prepared)`. */
export interface PreparedRequest {
  method: string;
  url: string;
  /**
   * Lower-case names. Hop-by-hop fields, `host` and `content-length` are left out: fetch sets
   * them from `url` and `body`.
   */
  headers: Record<string, string>;
  body?: string | Uint8Array | ArrayBuffer | null;
}

/**
 * The request backendAuth edits, whichever way it is used: the incoming request a proxy will
 * forward (middleware), or an outgoing request built by the app (`apply()`). Credential
 * kinds see only this.
 */
export interface ForwardedRequest extends EditableRequest {
  readonly method: string;
  /** The URL the upstream will receive, reflecting edits to the query; undefined if unknown. */
  upstreamUrl(): URL | undefined;
  /** The exact body bytes the upstream will receive. */
  body(): Promise<Uint8Array>;
}

/** What a middleware's `upstream` function sees of the incoming request. */
export interface UpstreamRequestView {
  method: string;
  /** Path and query as the app routes it (relative to an Express mount). */
  url: string;
  headers: IncomingHttpHeaders;
}

/** Joins like http-proxy and http-proxy-middleware: the target's path, then the request's. */
export function joinUpstream(base: URL, target: string): URL {
  const url = new URL(base.origin);
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  url.pathname = `${base.pathname.replace(/\/$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
  url.search = query === -1 ? '' : target.slice(query);
  return url;
}

/** The incoming request, edited in place for the proxy that forwards it next. */
export function incomingForwarded(
  host: RequestHost,
  upstreamBase: URL | undefined,
  maxBodyBytes: number,
): ForwardedRequest {
  const message = host.message;
  return {
    method: message.method ?? 'GET',
    message,
    editUrl: (edit) => host.editUrl(edit),
    upstreamUrl: () =>
      upstreamBase === undefined ? undefined : joinUpstream(upstreamBase, message.url ?? '/'),
    body: () => readAndRestoreBody(message, maxBodyBytes),
  };
}

/**
 * The headers a fetch-based forwarder may send on: hop-by-hop fields, those the Connection
 * header names, `host` and `content-length` (fetch sets both) left out, in every spelling an
 * upstream folds together (`transfer_encoding`, `X_User_Id` when Connection names x-user-id);
 * lists joined.
 */
export function forwardableHeaders(
  headers: Record<string, string | readonly string[] | undefined>,
): Record<string, string> {
  const connection = headers.connection;
  const named = new Set(
    String(Array.isArray(connection) ? connection.join(',') : (connection ?? ''))
      .split(',')
      .map((token) => headerSpellingKey(token.trim())),
  );
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const spelling = headerSpellingKey(name);
    if (FORWARDER_HEADERS.has(spelling) || named.has(spelling)) continue;
    result[name.toLowerCase()] = typeof value === 'string' ? value : value.join(', ');
  }
  return result;
}

function headerEntries(headers: OutgoingRequest['headers']): [string, string][] {
  if (headers === undefined) return [];
  if (headers instanceof Headers) return [...headers.entries()];
  if (Symbol.iterator in headers) {
    return [...(headers as Iterable<readonly [string, string]>)].map(([name, value]) => [name, value]);
  }
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string') entries.push([name, value]);
    else if (Array.isArray(value)) for (const item of value) entries.push([name, item]);
  }
  return entries;
}

function bytesOf(body: OutgoingRequest['body']): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof Uint8Array) return body;
  throw new TypeError('body must be a string, Uint8Array or ArrayBuffer to be signed');
}

/** An outgoing request under edit, and the prepared request it becomes. */
export interface OutgoingForwarded extends ForwardedRequest {
  prepared(): PreparedRequest;
}

/** Builds the editable form of a request the app is about to send. */
export function outgoingForwarded(request: OutgoingRequest): OutgoingForwarded {
  const url = new URL(request.url);
  const head: MessageHead & { url: string } = {
    url: `${url.pathname}${url.search}`,
    headers: {},
    rawHeaders: [],
  };
  for (const [name, value] of headerEntries(request.headers)) {
    const key = name.toLowerCase();
    const previous = head.headers[key];
    const separator = key === 'cookie' ? '; ' : ', ';
    head.headers[key] = typeof previous === 'string' ? `${previous}${separator}${value}` : value;
    head.rawHeaders.push(name, value);
  }
  const method = (request.method ?? 'GET').toUpperCase();
  const upstreamUrl = () => new URL(head.url, url.origin);
  return {
    method,
    message: head,
    editUrl(edit) {
      head.url = edit(head.url);
    },
    upstreamUrl,
    body: async () => bytesOf(request.body),
    prepared() {
      const headers = forwardableHeaders(head.headers);
      const prepared: PreparedRequest = { method, url: upstreamUrl().toString(), headers };
      if (request.body !== undefined) prepared.body = request.body;
      return prepared;
    },
  };
}
