import { displayUrl } from './display-url.js';
import { unfetchableUrl } from './loopback.js';

/** A JSON document fetched for configuration (JWKS, OIDC discovery) and its caching header. */
export interface FetchedJson {
  json: unknown;
  cacheControl: string | null;
}

export interface FetchJsonOptions {
  /** The whole fetch (every redirect hop and the body) ends after this long. */
  timeoutMs: number;
  /**
   * Follow up to {@link MAX_REDIRECTS} redirects that keep scheme, host and port. Without it,
   * and always for another origin, a redirect is a failed fetch: whoever answers a redirect
   * would otherwise choose the keys.
   */
  allowSameOriginRedirects: boolean;
}

export const MAX_JSON_BYTES = 1024 * 1024;
export const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * GETs `url` as JSON. Every URL it asks (the first and each redirect target) must pass
 * {@link unfetchableUrl}; the body is counted while it streams and the connection dropped past
 * {@link MAX_JSON_BYTES} (decompressed bytes, so a gzip bomb stops there too); one deadline
 * covers connecting, every hop and the body. Any failure is an Error whose message shows the
 * URL through {@link displayUrl} and a reason, never a response body.
 */
export async function fetchJson(url: string, options: FetchJsonOptions): Promise<FetchedJson> {
  const deadline = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.abort();
  }, options.timeoutMs);
  timer.unref();
  const failed = (where: URL, reason: string) => new Error(`GET ${displayUrl(where)}: ${reason}`);
  const late = `timed out after ${options.timeoutMs} ms`;
  try {
    let where = parse(url);
    for (let hop = 0; ; hop++) {
      const problem = unfetchableUrl(where);
      if (problem !== undefined) throw failed(where, `not fetched: the URL ${problem}`);
      let response: Response;
      try {
        response = await fetch(where, {
          headers: { accept: 'application/json' },
          signal: deadline.signal,
          redirect: 'manual',
        });
      } catch {
        throw failed(where, timedOut ? late : 'unreachable');
      }
      if (REDIRECTS.has(response.status)) {
        const next = redirectTarget(response, where, hop, options, failed);
        await response.body?.cancel().catch(() => undefined);
        where = next;
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        throw failed(where, `HTTP ${response.status}`);
      }
      let text: string;
      try {
        text = await readCappedText(response, MAX_JSON_BYTES, () => deadline.abort());
      } catch (error) {
        if (error instanceof TooLarge) throw failed(where, `response larger than ${MAX_JSON_BYTES} bytes`);
        throw failed(where, timedOut ? late : 'the body could not be read');
      }
      try {
        return { json: JSON.parse(text), cacheControl: response.headers.get('cache-control') };
      } catch {
        throw failed(where, 'response is not JSON');
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

function parse(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new Error('GET (not a URL): not fetched');
  }
}

/** Where a redirect may lead, or the Error that refuses it. */
function redirectTarget(
  response: Response,
  from: URL,
  hop: number,
  options: FetchJsonOptions,
  failed: (where: URL, reason: string) => Error,
): URL {
  const status = response.status;
  const location = response.headers.get('location');
  let next: URL | undefined;
  try {
    next = location === null ? undefined : new URL(location, from);
  } catch {
    next = undefined;
  }
  const redirect = `HTTP ${status} redirect ${next === undefined ? 'without a usable Location' : `to ${displayUrl(next)}`}`;
  if (!options.allowSameOriginRedirects) {
    throw failed(from, `${redirect} not followed (allowSameOriginRedirects is off)`);
  }
  if (next === undefined) throw failed(from, redirect);
  if (next.origin !== from.origin) throw failed(from, `${redirect} not followed: another origin`);
  if (hop >= MAX_REDIRECTS) throw failed(from, `HTTP ${status}: more than ${MAX_REDIRECTS} redirects`);
  return next;
}

/** Thrown by {@link readCappedText} for a body over its cap. */
export class TooLarge extends Error {}

// Like Response.text(): a leading byte-order mark is dropped, invalid bytes become U+FFFD.
const UTF8 = new TextDecoder();

/**
 * The body as text, read chunk by chunk; past `maxBytes` (or a declared Content-Length over it)
 * the read stops, `stop()` is called (to abort the request and close the socket) and
 * {@link TooLarge} is thrown: nothing more is read, decompressed or buffered. The one capped
 * reader for every answer portcullis fetches (JWKS, discovery, token endpoints).
 */
export async function readCappedText(
  response: Response,
  maxBytes: number,
  stop: () => void,
): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    stop();
    await response.body?.cancel().catch(() => undefined);
    throw new TooLarge();
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      stop();
      reader.cancel().catch(() => undefined);
      throw new TooLarge();
    }
    chunks.push(value);
  }
  return UTF8.decode(Buffer.concat(chunks));
}
