/** A JSON document fetched for configuration (JWKS, OIDC discovery) and its caching header. */
export interface FetchedJson {
  json: unknown;
  cacheControl: string | null;
}

const MAX_BYTES = 1024 * 1024;

/**
 * GETs `url` with a hard timeout and a size cap; any failure is an Error whose message names
 * the URL and the reason, never a response body.
 */
export async function fetchJson(url: string, timeoutMs: number): Promise<FetchedJson> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
  } catch (error) {
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `timed out after ${timeoutMs} ms`
        : 'unreachable';
    throw new Error(`GET ${url}: ${reason}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_BYTES) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: response larger than ${MAX_BYTES} bytes`);
  }
  let text: string;
  try {
    text = await response.text();
  } catch {
    throw new Error(`GET ${url}: body could not be read in time`);
  }
  if (text.length > MAX_BYTES) throw new Error(`GET ${url}: response larger than ${MAX_BYTES} bytes`);
  try {
    return { json: JSON.parse(text), cacheControl: response.headers.get('cache-control') };
  } catch {
    throw new Error(`GET ${url}: response is not JSON`);
  }
}
