import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real JWKS (and OIDC discovery) server on 127.0.0.1 that counts what it is asked, and can
 * be stopped and started again on the same port.
 */
export class JwksServer {
  document: unknown = { keys: [] };
  cacheControl: string | undefined;
  delayMs = 0;
  status = 200;
  readonly requests: string[] = [];
  private server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/jwks.json`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** How many times the JWKS itself was fetched. */
  get jwksFetches(): number {
    return this.requests.filter((path) => path === '/jwks.json').length;
  }

  async start(port = this.port): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      this.requests.push(req.url ?? '');
      const reply = () => {
        if (req.url === '/.well-known/openid-configuration') {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ issuer: this.origin, jwks_uri: this.url }));
          return;
        }
        if (req.url !== '/jwks.json') {
          res.statusCode = 404;
          res.end();
          return;
        }
        res.statusCode = this.status;
        res.setHeader('content-type', 'application/json');
        if (this.cacheControl !== undefined) res.setHeader('cache-control', this.cacheControl);
        res.end(JSON.stringify(this.document));
      };
      if (this.delayMs > 0) setTimeout(reply, this.delayMs);
      else reply();
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
