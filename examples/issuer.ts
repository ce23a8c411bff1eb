import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

/**
 * An embedded OpenID issuer for the demo: a key pair made at start, its JWKS and discovery
 * document served on loopback, and tokens minted on demand.
 */
export interface DemoIssuer {
  server: Server;
  /** The issuer URL (also the `iss` of its tokens). */
  url: string;
  jwksUrl: string;
  mint(claims?: JWTPayload, expiresIn?: string): Promise<string>;
}

export async function startIssuer(port = 0, audience = 'demo-api'): Promise<DemoIssuer> {
  const kid = `demo-${Date.now().toString(36)}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  let origin = '';
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer: origin, jwks_uri: `${origin}/jwks.json` }));
    } else if (req.url === '/jwks.json') {
      res.setHeader('cache-control', 'public, max-age=300');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end('{"error":"not_found"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url: origin,
    jwksUrl: `${origin}/jwks.json`,
    mint: (claims = {}, expiresIn = '1h') =>
      new SignJWT({ sub: 'demo-user', scope: 'chat:read chat:write', groups: ['users'], ...claims })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer(origin)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(privateKey),
  };
}
