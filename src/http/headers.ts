import type { IncomingHttpHeaders } from 'node:http';

/**
 * The header fields of a message as Node keeps them: an incoming request (IncomingMessage
 * satisfies this) or a request the gateway is about to send (backendAuth builds one).
 */
export interface MessageHead {
  url?: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  readonly headersDistinct?: NodeJS.Dict<string[]>;
}

// Node folds repeated headers into `message.headers` (and silently keeps only the first
// Authorization), so the raw list is the only place a repeated credential header shows up.

/** Every value sent for the header `name` (any case), in order. */
export function headerOccurrences(message: MessageHead, name: string): string[] {
  const raw = message.rawHeaders;
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length === wanted.length && key.toLowerCase() === wanted) values.push(raw[i + 1]!);
  }
  return values;
}

/**
 * Node builds `message.headers` and `message.headersDistinct` lazily, on first read, from
 * `rawHeaders` — but only up to the number of raw entries the parser saw (an internal count
 * that editing `rawHeaders` does not change). Were either view first read after we shortened
 * `rawHeaders`, Node would read past its end and throw a TypeError (a 500 for any app or
 * proxy reading `req.headersDistinct` after a credential was stripped); after we appended, it
 * would miss the new header. So both views are built before `rawHeaders` is edited, and every
 * edit is then applied to all three.
 */
function removeFromViews(
  message: MessageHead,
  headers: IncomingHttpHeaders,
  distinct: NodeJS.Dict<string[]> | undefined,
  wanted: string,
): void {
  delete headers[wanted];
  if (distinct !== undefined) delete distinct[wanted];
  const raw = message.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (raw[i]!.toLowerCase() === wanted) raw.splice(i, 2);
  }
}

/** Removes the header everywhere Node keeps it, so neither the app nor a proxy sees it. */
export function deleteHeader(message: MessageHead, name: string): void {
  // Each view is read once: on an Express request every read of a property is a slow lookup.
  const headers = message.headers;
  removeFromViews(message, headers, message.headersDistinct, name.toLowerCase());
}

/** Sets the header to exactly one value, replacing any the client sent. */
export function setHeader(message: MessageHead, name: string, value: string): void {
  const headers = message.headers;
  const distinct = message.headersDistinct;
  const lower = name.toLowerCase();
  removeFromViews(message, headers, distinct, lower);
  headers[lower] = value;
  if (distinct !== undefined) distinct[lower] = [value];
  message.rawHeaders.push(name, value);
}

const CONNECTION_OPTIONS = new Set(['close', 'keep-alive', 'upgrade']);

/**
 * Removes the headers the client named in `Connection` (RFC 9110 7.6.1: they are for the hop
 * to the gateway only), keeping the connection options themselves. Done before a gateway
 * writes its own headers, so `Connection: authorization` cannot make a forwarder drop them.
 */
export function removeConnectionListed(message: MessageHead): void {
  const connection = message.headers.connection;
  // The usual value names no header: skip the parse on the common path.
  if (connection === undefined || CONNECTION_OPTIONS.has(connection.trim().toLowerCase())) return;
  const tokens = String(connection)
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
  const kept = tokens.filter((token) => CONNECTION_OPTIONS.has(token));
  if (kept.length === tokens.length) return;
  for (const token of tokens) if (!CONNECTION_OPTIONS.has(token)) deleteHeader(message, token);
  if (kept.length === 0) deleteHeader(message, 'connection');
  else setHeader(message, 'connection', kept.join(', '));
}
