import { type IncomingMessage, request, type ServerResponse } from 'node:http';

/**
 * A minimal reverse proxy for the demo: forwards the request the app sees (after portcullis
 * stripped the client's credential) to `upstream`, streaming both ways.
 */
export function forward(upstream: string, req: IncomingMessage, res: ServerResponse, path: string): void {
  const target = new URL(path, upstream);
  const headers = { ...req.headers, host: target.host };
  const outgoing = request(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  outgoing.on('error', () => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/json' });
    }
    res.end('{"error":"bad_gateway"}');
  });
  req.pipe(outgoing);
}
