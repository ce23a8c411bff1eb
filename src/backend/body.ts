import type { IncomingMessage } from 'node:http';

/** Why the body could not be read for signing; each maps to one response. */
export class BodyReadError extends Error {
  constructor(
    message: string,
    readonly reason: 'too_large' | 'already_read' | 'aborted',
  ) {
    super(message);
    this.name = 'BodyReadError';
  }
}

/**
 * Reads the whole request body and puts it back, so the proxy behind backendAuth still
 * forwards the very bytes that were signed (SigV4 covers the body's SHA-256).
 *
 * How it puts the bytes back: it reads in paused mode until the HTTP parser has seen the end of
 * the message (`message.complete`), then `unshift`s everything before the stream emits 'end'
 * (Node allows an unshift until then). The stream then reads as if untouched: a proxy that
 * pipes it, or a fetch forwarder that iterates it, receives the same bytes and then the end.
 * Without this, every forwarder would need a hook to re-send a buffered copy, and one that
 * forgot would send an empty body under a valid signature.
 */
export function readAndRestoreBody(message: IncomingMessage, limit: number): Promise<Buffer> {
  if (message.readableEnded || message.readableDidRead) {
    return Promise.reject(
      new BodyReadError(
        'the request body was read before backendAuth (mount it before body parsers)',
        'already_read',
      ),
    );
  }
  const declared = Number(message.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new BodyReadError(`the request body is larger than ${limit} bytes`, 'too_large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (outcome: () => void) => {
      message.off('readable', onReadable);
      message.off('end', onEnd);
      message.off('error', onFailure);
      message.off('aborted', onFailure);
      outcome();
    };
    // Reached only for a message with no body; bytes already read could not be put back.
    const onEnd = () =>
      finish(() =>
        size === 0
          ? resolve(Buffer.alloc(0))
          : reject(new BodyReadError('the request body could not be restored', 'aborted')),
      );
    const onFailure = () =>
      finish(() => reject(new BodyReadError('the client stopped sending the request body', 'aborted')));
    function onReadable() {
      for (
        let chunk = message.read() as Buffer | null;
        chunk !== null;
        chunk = message.read() as Buffer | null
      ) {
        size += chunk.length;
        if (size > limit) {
          finish(() =>
            reject(new BodyReadError(`the request body is larger than ${limit} bytes`, 'too_large')),
          );
          return;
        }
        chunks.push(chunk);
      }
      if (!message.complete) return;
      const body = Buffer.concat(chunks, size);
      finish(() => {
        if (body.length > 0) message.unshift(body);
        resolve(body);
      });
    }
    message.on('readable', onReadable);
    // A body-less message may end without a 'readable' event.
    message.on('end', onEnd);
    message.on('error', onFailure);
    message.on('aborted', onFailure);
  });
}
