import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The backend the demo gateways forward to: it answers with what it received. Like an LLM
 * provider, it wants its own key under /api: a request without it (say, one that still carried
 * the client's token) gets 401.
 */
export async function startEchoUpstream(
  port: number,
  apiKey: string,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/api/') && req.headers.authorization !== `Bearer ${apiKey}`) {
        res.statusCode = 401;
        res.end('{"upstream":"echo","error":"the upstream key is missing"}\n');
        return;
      }
      res.end(
        `${JSON.stringify(
          {
            upstream: 'echo',
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          },
          null,
          2,
        )}\n`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
