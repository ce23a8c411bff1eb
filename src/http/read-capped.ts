/** A response body longer than the reader's cap (declared or counted). */
export class BodyTooLarge extends Error {
  constructor(readonly cap: number) {
    super(`response larger than ${cap} bytes`);
    this.name = 'BodyTooLarge';
  }
}

// Like Response.text(): a leading byte-order mark is dropped, invalid bytes become U+FFFD.
const UTF8 = new TextDecoder();

/**
 * A response body as text, read chunk by chunk and counted as it streams (decompressed bytes,
 * so a gzip bomb stops at the cap too). A declared Content-Length over `cap`, or the first
 * chunk past it, aborts `fetchController` (the one whose signal the fetch was given): the
 * socket closes and nothing more is read, decompressed or buffered; then it throws
 * {@link BodyTooLarge}. Any other failure (the deadline aborting the fetch, a reset) rejects
 * as the stream does.
 */
export async function readCapped(
  response: Response,
  cap: number,
  fetchController: AbortController,
): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > cap) {
    fetchController.abort();
    throw new BodyTooLarge(cap);
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      fetchController.abort();
      reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(cap);
    }
    chunks.push(value);
  }
  return UTF8.decode(Buffer.concat(chunks));
}
