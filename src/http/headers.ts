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
 * The one name an upstream may make of `name`: lower case, and every character that is not a
 * letter or a digit read as `-`. CGI, WSGI (Django's `HTTP_X_USER_ID`), Rack, PHP, nginx with
 * `underscores_in_headers` and Apache 2.2 fold `X_User_Id`, `x.user-id` and `x-user-id` into one
 * variable, so a client's variant sent beside (or instead of) a header portcullis owns would be
 * read as that header. Node already refuses whitespace, obs-fold and non-token characters in
 * names, so letters, digits and these token symbols are all a name can hold.
 */
export function headerSpellingKey(name: string): string {
  // The usual name (lower case and `-`, as Node hands them over) is its own key: no allocation.
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (!((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d)) {
      return name.toLowerCase().replace(/[^a-z0-9]/g, '-');
    }
  }
  return name;
}

/** `headerSpellingKey(name) === key`, without allocating (called for every raw header). */
export function sameSpelling(name: string, key: string): boolean {
  if (name.length !== key.length) return false;
  for (let i = 0; i < name.length; i++) {
    let code = name.charCodeAt(i);
    if (code >= 0x41 && code <= 0x5a) code += 0x20;
    else if (!((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39))) code = 0x2d;
    if (code !== key.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Node builds `message.headers` and `message.headersDistinct` lazily, on first read, from
 * `rawHeaders` — but only up to the number of raw entries the parser saw (an internal count
 * that editing `rawHeaders` does not change). Were either view first read after we shortened
 * `rawHeaders`, Node would read past its end and throw a TypeError (a 500 for any app or
 * proxy reading `req.headersDistinct` after a credential was stripped); after we appended, it
 * would miss the new header. So both views are built before `rawHeaders` is edited, and every
 * edit is then applied to all three. Every spelling of the name goes (see headerSpellingKey).
 */
function removeFromViews(
  message: MessageHead,
  headers: IncomingHttpHeaders,
  distinct: NodeJS.Dict<string[]> | undefined,
  key: string,
): void {
  delete headers[key];
  if (distinct !== undefined) delete distinct[key];
  const raw = message.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = raw[i]!;
    if (!sameSpelling(name, key)) continue;
    raw.splice(i, 2);
    const lower = name.toLowerCase();
    delete headers[lower];
    if (distinct !== undefined) delete distinct[lower];
  }
}

/**
 * Removes the header everywhere Node keeps it, in every spelling an upstream could read as it
 * (`X_User_Id` for `x-user-id`), so neither the app nor a proxy nor the upstream sees it.
 */
export function deleteHeader(message: MessageHead, name: string): void {
  // Each view is read once: on an Express request every read of a property is a slow lookup.
  const headers = message.headers;
  removeFromViews(message, headers, message.headersDistinct, headerSpellingKey(name));
}

/** Sets the header to exactly one value, replacing any the client sent, in any spelling. */
export function setHeader(message: MessageHead, name: string, value: string): void {
  const headers = message.headers;
  const distinct = message.headersDistinct;
  const lower = name.toLowerCase();
  removeFromViews(message, headers, distinct, headerSpellingKey(lower));
  headers[lower] = value;
  if (distinct !== undefined) distinct[lower] = [value];
  message.rawHeaders.push(name, value);
}

/**
 * Hop-by-hop fields (RFC 9110 7.6.1) and those a forwarder derives from the URL and the body:
 * never forwarded as the client sent them, never written from a claim.
 */
export const FORWARDER_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length',
  'expect',
]);

/** The connection options a client may keep; every other token names a header. */
const CONNECTION_OPTIONS = new Set(['close', 'keep-alive', 'upgrade']);

/**
 * Headers a forwarder frames the request with: named in `Connection`, they are kept (only the
 * token goes). Without them a proxy piping the body of a GET would send it unframed, and the
 * upstream would read it as a second request.
 */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);

function connectionTokens(value: string | string[] | undefined, into: string[]): void {
  if (value === undefined) return;
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const token of part.split(',')) {
      const trimmed = token.trim().toLowerCase(); // OWS is space and TAB: trim() covers both
      if (trimmed !== '') into.push(trimmed);
    }
  }
}

/**
 * Makes sure no hop after the gateway can be told to drop a header: removes the headers the
 * client named in `Connection` (RFC 9110 7.6.1: they were for the hop to the gateway only, and
 * a proxy removes them) and in the obsolete `Proxy-Connection` (some proxies still honour it),
 * then leaves `Connection` with only `close`, `keep-alive` and `upgrade`, and no
 * `Proxy-Connection`. The framing headers stay (see FRAMING). Called by forwardIdentity and
 * backendAuth before they write, so `Connection: x-user-id` or `Connection: authorization`
 * cannot make a forwarder (or any proxy behind it) drop what they write. Node joins repeated
 * `Connection` lines into one value; the forms are the same ones a proxy would act on.
 */
export function removeConnectionListed(message: MessageHead): void {
  const headers = message.headers;
  const connection = headers.connection;
  const proxyConnection = headers['proxy-connection'];
  // The usual value names no header: skip the parse on the common path.
  if (
    proxyConnection === undefined &&
    (connection === undefined || CONNECTION_OPTIONS.has(connection.trim().toLowerCase()))
  ) {
    return;
  }
  const tokens: string[] = [];
  connectionTokens(connection, tokens);
  connectionTokens(proxyConnection, tokens);
  const kept: string[] = [];
  // Each name once: a 16 KB list of one name repeated must not cost a scan per repetition.
  const removed = new Set<string>();
  for (const token of tokens) {
    if (CONNECTION_OPTIONS.has(token)) {
      if (!kept.includes(token)) kept.push(token);
      continue;
    }
    const key = headerSpellingKey(token);
    if (FRAMING.has(key) || removed.has(key)) continue;
    removed.add(key);
    deleteHeader(message, key);
  }
  deleteHeader(message, 'proxy-connection');
  if (kept.length === 0) deleteHeader(message, 'connection');
  else setHeader(message, 'connection', kept.join(', '));
}
