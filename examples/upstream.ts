import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The backend the demo gateways forward to: it answers with what it received. */
export async function startEchoUpstream(port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
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
