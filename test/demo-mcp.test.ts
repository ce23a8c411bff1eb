import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, ROUTES, startDemo } from '../examples/demo.js';
import { main } from '../examples/mcp-client.js';
import { runCurlLine, shellWords } from './support/curl-line.js';

/**
 * The demo's MCP route, driven the way `npm start` tells a user to drive it: the printed curl
 * lines (replayed as printed), and the printed SDK client command (its main function, and once
 * the command itself), against a demo started on free ports (DEMO_PORT=0).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
let demo: Demo;
beforeAll(async () => {
  demo = await startDemo({ express: 0, koa: 0, issuer: 0, upstream: 0, authorizationServer: 0 });
});
afterAll(async () => {
  await demo?.close();
});

describe.each(['express', 'koa'] as const)('the demo MCP route (%s)', (gateway) => {
  const base = () => demo.urls[gateway];
  const endpoint = () => demo.mcp[gateway];
  const metadataUrl = () => `${base()}/.well-known/oauth-protected-resource/mcp`;
  /** This gateway's printed MCP lines: metadata curl, 401 curl, client command. */
  const printed = () => demo.mcpCommands().filter((line) => line.includes(base()));

  it('prints the metadata curl, the 401 curl and the SDK client command', () => {
    expect(endpoint()).toBe(`${base()}/mcp`);
    const [metadata, challenge, client, ...rest] = printed();
    expect(rest).toEqual([]);
    expect(metadata).toBe(`curl -s ${metadataUrl()}`);
    expect(challenge).toMatch(new RegExp(`^curl -si -X POST ${endpoint()} `));
    expect(client).toBe(`npx tsx examples/mcp-client.ts ${endpoint()}`);
  });

  it('the metadata curl shows the RFC 9728 document: this gateway, the embedded authorization server', async () => {
    const res = await runCurlLine(printed()[0]!);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(JSON.parse(res.body)).toMatchObject({
      resource: endpoint(),
      authorization_servers: [demo.authorizationServer.issuer],
      scopes_supported: ['mcp:tools', 'deploy'],
      bearer_methods_supported: ['header'],
    });
    // The root form too, and the authorization server it names answers discovery.
    const root = await fetch(`${base()}/.well-known/oauth-protected-resource`);
    expect(root.status).toBe(200);
    expect(((await root.json()) as { resource: string }).resource).toBe(endpoint());
    const discovery = await fetch(
      `${demo.authorizationServer.issuer}/.well-known/oauth-authorization-server`,
    );
    expect(discovery.status).toBe(200);
  });

  it('the 401 curl shows the challenge with every scope the deploy call needs, and no error', async () => {
    const res = await runCurlLine(printed()[1]!);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${metadataUrl()}", scope="mcp:tools deploy"`,
    );
    expect(JSON.parse(res.body)).toMatchObject({ error: expect.any(String) });
  });

  it('the SDK client (main of examples/mcp-client.ts) calls echo, is stepped up, and calls deploy', async () => {
    const [, , command] = printed();
    const url = shellWords(command!).at(-1)!;
    const log: string[] = [];
    const run = await main(url, (line) => log.push(line));
    expect(run.tools.sort()).toEqual(['deploy', 'echo']);
    expect(run.echo).toBe('echo: hello from the SDK client');
    expect(run.deploy).toBe(`deployed demo (${gateway})`);
    expect(run.scope).toBe('mcp:tools deploy');
    // The 401 it discovered from, then the one 403 it was stepped up from.
    expect(run.challenges.map((challenge) => challenge.status)).toEqual([401, 403]);
    expect(run.challenges[0]!.wwwAuthenticate).toBe(
      `Bearer resource_metadata="${metadataUrl()}", scope="mcp:tools"`,
    );
    expect(run.challenges[1]!.wwwAuthenticate).toMatch(
      /^Bearer error="insufficient_scope", scope="mcp:tools deploy"/,
    );
    // Two authorizations at the embedded server, for this gateway's resource, with PKCE.
    expect(run.authorizations.map((request) => request.origin)).toEqual([
      demo.authorizationServer.issuer,
      demo.authorizationServer.issuer,
    ]);
    for (const request of run.authorizations) {
      expect(request.searchParams.get('resource')).toBe(endpoint());
      expect(request.searchParams.get('code_challenge_method')).toBe('S256');
    }
    expect(run.authorizations.map((request) => request.searchParams.get('scope'))).toEqual([
      'mcp:tools',
      'mcp:tools deploy',
    ]);
    expect(run.clientId).toBeTruthy();
    expect(log.join('\n')).toContain('stepped up');
  });

  it('a token for this gateway is no token for the other gateway, nor for its jwtAuth routes', async () => {
    const other = gateway === 'express' ? 'koa' : 'express';
    const run = await main(endpoint(), () => {});
    const token = run.accessToken;
    expect(decodeJwt(token).aud).toBe(endpoint());
    const call = (url: string) =>
      fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    expect((await call(endpoint())).status).toBe(200);
    // The token is checked before the body is read: without one, unparseable JSON is a 401; with
    // it, mcpAuth reads the body (no body parser runs in front of it) and answers JSON-RPC -32700.
    const garbled = (authorization?: string) =>
      fetch(endpoint(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: '{not json',
      });
    expect((await garbled()).status).toBe(401);
    const parseError = await garbled(`Bearer ${token}`);
    expect(parseError.status).toBe(400);
    expect(await parseError.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
    const refused = await call(demo.mcp[other]);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // The demo issuer's token (another issuer, another audience) is refused on /mcp too.
    const demoToken = await fetch(endpoint(), {
      method: 'POST',
      headers: { authorization: `Bearer ${demo.token}`, 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    });
    expect(demoToken.status).toBe(401);
    expect(
      (await fetch(`${base()}${ROUTES.me}`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(401);
  });

  it('leaves the other routes to their own guards', async () => {
    expect((await fetch(`${base()}${ROUTES.health}`)).status).toBe(200);
    const me = await fetch(`${base()}${ROUTES.me}`);
    expect(me.status).toBe(401);
    expect(me.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    const ok = await fetch(`${base()}${ROUTES.me}`, { headers: { authorization: `Bearer ${demo.token}` } });
    expect(ok.status).toBe(200);
  });
});

describe('the printed SDK client command', () => {
  it.each(['express', 'koa'] as const)(
    'runs as printed against the %s gateway',
    async (gateway) => {
      const line = demo
        .mcpCommands()
        .find((printed) => printed.startsWith('npx') && printed.includes(demo.urls[gateway]));
      const [command, ...args] = shellWords(line!);
      const child = spawn(command!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, output).toBe(0);
      expect(output).toContain('<- 401 WWW-Authenticate: Bearer resource_metadata=');
      expect(output).toContain('-> tools/call echo: echo: hello from the SDK client');
      expect(output).toContain('<- 403 WWW-Authenticate: Bearer error="insufficient_scope"');
      expect(output).toContain(`deployed demo (${gateway})`);
    },
    60_000,
  );
});
