import { type IncomingHttpHeaders, IncomingMessage } from 'node:http';

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
    if (isNamed(raw[i]!, wanted)) values.push(raw[i + 1]!);
  }
  return values;
}

/** `sent.toLowerCase() === lower`, without the lower-cased copy (called for every raw header). */
function isNamed(sent: string, lower: string): boolean {
  if (sent.length !== lower.length) return false;
  for (let i = 0; i < sent.length; i++) {
    const code = sent.charCodeAt(i);
    if ((code >= 0x41 && code <= 0x5a ? code + 0x20 : code) !== lower.charCodeAt(i)) return false;
  }
  return true;
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
 * `rawHeaders` — but only up to the number of raw entries the parser saw (a private count that
 * editing `rawHeaders` does not change). Were either view first read after we shortened
 * `rawHeaders`, Node would read past its end and throw a TypeError (a 500 for any app or
 * proxy reading `req.headersDistinct` after a credential was stripped); after we appended, it
 * would miss the new header. So `headers` is built before `rawHeaders` is edited, every edit is
 * applied to every view already built, and Node's count is kept in step: lowered for each entry
 * removed inside it, and a header set is inserted at its end, so a view built later reads
 * exactly the entries Node would have read. (Entries past the count, beyond Node's
 * `maxHeadersCount`, stay outside every view: setting the count to the length would show them
 * in a late-built `headersDistinct` while `headers` never had them.)
 *
 * The count and the distinct view live in private symbol-keyed slots, found below by their
 * names and proven on a sample message at start-up. Without them (a Node whose internals
 * differ) the distinct view is built before the edit instead, as before: correct, and slower
 * (on Express, building it adds a property to `req`, whose hidden class is its own: 15k
 * instructions per stripped request, BENCHMARKS.md).
 */
interface NodeViewSlots {
  count: symbol;
  distinct: symbol;
}
type Slotted = Record<symbol, unknown>;

const NODE_VIEW_SLOTS = nodeViewSlots();

/** Whether this Node's slots were found (the fast path): for the tests. */
export const NODE_VIEW_SLOTS_FOUND = NODE_VIEW_SLOTS !== undefined;

function nodeViewSlots(): NodeViewSlots | undefined {
  try {
    const sample = new IncomingMessage(undefined as never);
    const named = (name: string) =>
      Object.getOwnPropertySymbols(sample).find((symbol) => symbol.description === name);
    const count = named('kHeadersCount');
    if (count === undefined) return undefined;
    sample.rawHeaders = ['A', '1', 'B', '2'];
    (sample as unknown as Slotted)[count] = 4;
    if (sample.headers.a !== '1') return undefined;
    sample.rawHeaders.splice(0, 2);
    (sample as unknown as Slotted)[count] = 2;
    const view = sample.headersDistinct;
    const distinct = named('kHeadersDistinct');
    if (distinct === undefined || (sample as unknown as Slotted)[distinct] !== view) return undefined;
    return JSON.stringify(view) === '{"b":["2"]}' ? { count, distinct } : undefined;
  } catch {
    return undefined;
  }
}

/** Node's slots, when `message` is an IncomingMessage of a Node whose slots were found. */
function slotsOf(message: MessageHead): NodeViewSlots | undefined {
  return NODE_VIEW_SLOTS !== undefined && message instanceof IncomingMessage ? NODE_VIEW_SLOTS : undefined;
}

/** The distinct view if there is one to keep in step: built already, or built now when needed. */
function distinctView(
  message: MessageHead,
  slots: NodeViewSlots | undefined,
): NodeJS.Dict<string[]> | undefined {
  if (slots === undefined) return message.headersDistinct;
  return ((message as unknown as Slotted)[slots.distinct] ?? undefined) as NodeJS.Dict<string[]> | undefined;
}

/** How many raw entries Node's views read: its private count, or all of them elsewhere. */
function viewedCount(message: MessageHead, slots: NodeViewSlots | undefined, raw: string[]): number {
  if (slots === undefined) return raw.length;
  return ((message as unknown as Slotted)[slots.count] as number | undefined) ?? raw.length;
}

function removeFromViews(
  raw: string[],
  headers: IncomingHttpHeaders,
  distinct: NodeJS.Dict<string[]> | undefined,
  key: string,
  count: number,
): number {
  delete headers[key];
  if (distinct !== undefined) delete distinct[key];
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = raw[i]!;
    if (!sameSpelling(name, key)) continue;
    raw.splice(i, 2);
    if (i < count) count -= 2;
    const lower = name.toLowerCase();
    delete headers[lower];
    if (distinct !== undefined) delete distinct[lower];
  }
  return count;
}

/**
 * Removes the header everywhere Node keeps it, in every spelling an upstream could read as it
 * (`X_User_Id` for `x-user-id`), so neither the app nor a proxy nor the upstream sees it.
 */
export function deleteHeader(message: MessageHead, name: string): void {
  // Each view is read once: on an Express request every read of a property is a slow lookup.
  const headers = message.headers;
  const slots = slotsOf(message);
  const raw = message.rawHeaders;
  const count = viewedCount(message, slots, raw);
  const kept = removeFromViews(raw, headers, distinctView(message, slots), headerSpellingKey(name), count);
  if (slots !== undefined && kept !== count) (message as unknown as Slotted)[slots.count] = kept;
}

/** Sets the header to exactly one value, replacing any the client sent, in any spelling. */
export function setHeader(message: MessageHead, name: string, value: string): void {
  const headers = message.headers;
  const slots = slotsOf(message);
  const distinct = distinctView(message, slots);
  const raw = message.rawHeaders;
  const lower = name.toLowerCase();
  const count = viewedCount(message, slots, raw);
  const kept = removeFromViews(raw, headers, distinct, headerSpellingKey(lower), count);
  headers[lower] = value;
  if (distinct !== undefined) distinct[lower] = [value];
  // Inside the span Node's views read (past it sit the raw entries beyond maxHeadersCount).
  raw.splice(kept, 0, name, value);
  if (slots !== undefined) (message as unknown as Slotted)[slots.count] = kept + 2;
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
