import type { ApiKeyRecord } from '../../src/index.js';
import type { Framework, ServeOptions, TestServer } from './frameworks.js';
import { AUDIENCE, ISSUER, jwks, type TestKey } from './keys.js';

/** What every portcullis middleware has, whichever adapter made it. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * `framework.lib` is a union of the two adapter modules, so their variadic `anyAuth` cannot be
 * called with a member union directly; at run time each test only mixes one adapter's middlewares.
 */
export function anyAuthOf(framework: Framework): (...args: unknown[]) => Closable {
  return framework.lib.anyAuth as unknown as (...args: unknown[]) => Closable;
}

/** Opens servers and remembers middlewares, so one afterAll closes everything. */
export function resourcesOf(framework: Framework) {
  const servers: TestServer[] = [];
  const middlewares: Closable[] = [];
  return {
    track<T extends Closable>(middleware: T): T {
      middlewares.push(middleware);
      return middleware;
    },
    async serve(list: unknown[], options: ServeOptions = {}): Promise<TestServer> {
      const server = await framework.serve(list, options);
      servers.push(server);
      return server;
    },
    async closeAll(): Promise<void> {
      for (const server of servers.splice(0)) await server.close();
      for (const middleware of middlewares.splice(0)) await middleware.close();
    },
  };
}

/** What the inbound middlewares of inboundResourcesOf() check credentials against. */
export interface InboundFixtures {
  /** The JWT signing key (read when a middleware is made: it is usually made in a beforeAll). */
  key: () => TestKey;
  htpasswd: string;
  /** A fresh list of API-key records for each middleware. */
  apiKeys: () => ApiKeyRecord[];
}

/**
 * resourcesOf() plus the three inbound schemes, each tracked: jwtAuth with an inline JWKS,
 * basicAuth, and apiKeyAuth reading `x-api-key`; `extra` adds or overrides options.
 */
export function inboundResourcesOf(framework: Framework, fixtures: InboundFixtures) {
  const opened = resourcesOf(framework);
  const { lib } = framework;
  const { track } = opened;
  return {
    ...opened,
    jwt: (extra: Record<string, unknown> = {}) =>
      track(
        lib.jwtAuth({
          issuer: ISSUER,
          audiences: [AUDIENCE],
          jwks: { inline: jwks(fixtures.key()) },
          ...extra,
        }),
      ),
    basic: (extra: Record<string, unknown> = {}) =>
      track(lib.basicAuth({ htpasswd: fixtures.htpasswd, ...extra })),
    apiKey: (extra: Record<string, unknown> = {}) =>
      track(
        lib.apiKeyAuth({ keys: fixtures.apiKeys(), location: { header: { name: 'x-api-key' } }, ...extra }),
      ),
  };
}
