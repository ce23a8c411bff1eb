import type { Framework, ServeOptions, TestServer } from './frameworks.js';

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
