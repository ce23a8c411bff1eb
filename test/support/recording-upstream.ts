import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listenOnLoopback } from './loopback.js';

/** One request as the upstream received it. */
export interface Received {
  method: string;
  /** Path and query exactly as sent. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: string;
}

export interface RecordingUpstream {
  url: string;
  received: Received[];
  /** The last request received (throws if none). */
  last(): Received;
  close(): Promise<void>;
}

/**
 * An upstream that records every request it receives and answers 200 with the record as JSON,
 * or with what `answer` decides (the fake Bedrock answers 403 to a bad signature).
 */
export async function startRecordingUpstream(
  answer?: (received: Received, req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<RecordingUpstream> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const record: Received = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(record);
      if (answer?.(record, req, res)) return;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(record));
    });
  });
  await listenOnLoopback(server);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    last() {
      const record = received.at(-1);
      if (record === undefined) throw new Error('the upstream received nothing');
      return record;
    },
    close: () => closeServer(server),
  };
}
