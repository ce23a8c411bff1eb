/**
 * `npx tsx examples/mcp-client.ts <mcp url>`: the official MCP SDK client against the demo's MCP
 * route (`npm start` prints the command for both gateways). Headless: the SDK's OAuth flow runs
 * as any SDK-based client runs it (the 401, the RFC 9728 metadata, the authorization server's
 * metadata, dynamic registration, PKCE), and the "browser" is fetch following the authorization
 * server's redirect chain (the demo's server approves without a login page) to the redirect_uri,
 * where the code is picked up. Then it lists the tools, calls `echo`, and calls `deploy`, which
 * needs a scope the first token lacks: 403 insufficient_scope, a second authorization for every
 * scope the challenge names, and the call again. Each step is printed.
 */
import { pathToFileURL } from 'node:url';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

/** Never listened on: the redirect chain is followed until it points here, and the code read from it. */
export const REDIRECT_URL = 'http://127.0.0.1/oauth/callback';

/**
 * The SDK client's OAuthClientProvider as a headless client implements it: everything in memory;
 * `redirectToAuthorization` follows the authorization server's redirects with fetch (keeping its
 * cookies, as a browser would) until they reach the redirect_uri.
 */
export class HeadlessOAuthProvider {
  readonly redirects: URL[] = [];
  private client: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  private code: string | undefined;

  constructor(private readonly clientName = 'portcullis demo MCP client') {}

  get redirectUrl(): string {
    return REDIRECT_URL;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.clientName,
      redirect_uris: [REDIRECT_URL],
      // As the SDK's own example client registers; the authorization server issues refresh tokens
      // only with offline_access, which the SDK does not ask for (see examples/authorization-server.ts).
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.redirects.push(authorizationUrl);
    const params = await followToRedirectUri(authorizationUrl);
    const code = params.get('code');
    if (!code) throw new Error(`authorization refused: ${params.get('error')}`);
    this.code = code;
  }
  /** The code the last redirect chain ended with (once). */
  takeCode(): string {
    const code = this.code;
    this.code = undefined;
    if (!code) throw new Error('no authorization code');
    return code;
  }
}

/**
 * What a browser does between the authorization request and the redirect_uri: follow redirects
 * (at most 10), keeping the cookies the authorization server sets unless told not to. Returns
 * the redirect_uri's query.
 */
export async function followToRedirectUri(
  authorizationUrl: URL,
  keepCookies = true,
): Promise<URLSearchParams> {
  const cookies = new Map<string, string>();
  let url = authorizationUrl.href;
  for (let hop = 0; hop < 10; hop++) {
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    await response.body?.cancel();
    for (const line of keepCookies ? response.headers.getSetCookie() : []) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = response.headers.get('location');
    if (!location) throw new Error(`authorization stopped at ${response.status} ${url}`);
    url = new URL(location, url).href;
    if (url.startsWith(REDIRECT_URL)) return new URL(url).searchParams;
  }
  throw new Error('too many redirects');
}

/** A 401 or 403 the MCP endpoint answered. */
export interface Challenge {
  status: number;
  wwwAuthenticate: string | null;
}

/** What one run did, for the caller (and the tests) to check. */
export interface ClientRun {
  challenges: Challenge[];
  /** The authorization requests, in order (each with its `scope`, `resource`, PKCE parameters). */
  authorizations: URL[];
  clientId: string | undefined;
  tools: string[];
  echo: string;
  deploy: string;
  /** The scope of the last access token the authorization server issued. */
  scope: string | undefined;
  /** That token (returned to the caller, never printed). */
  accessToken: string;
}

/** fetch for the SDK transport, printing each challenge of the MCP endpoint. */
function watchingFetch(endpoint: string, challenges: Challenge[], log: (line: string) => void): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if ((response.status === 401 || response.status === 403) && url === endpoint) {
      const challenge = {
        status: response.status,
        wwwAuthenticate: response.headers.get('www-authenticate'),
      };
      challenges.push(challenge);
      log(`<- ${challenge.status} WWW-Authenticate: ${challenge.wwwAuthenticate}`);
    }
    return response;
  };
}

const textOf = (result: unknown): string => {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((part) => part.text ?? '').join('');
};

/** Runs the whole flow against `mcpUrl`; `log` receives each step (console.log from the command line). */
export async function main(mcpUrl: string, log: (line: string) => void = console.log): Promise<ClientRun> {
  const endpoint = new URL(mcpUrl).href;
  const provider = new HeadlessOAuthProvider();
  const challenges: Challenge[] = [];
  const options = { authProvider: provider, fetch: watchingFetch(endpoint, challenges, log) };
  const client = new Client({ name: 'portcullis-demo-client', version: '1.0.0' });

  /** The step the SDK stops at: the authorization it asked for, finished with the code. */
  const authorize = async (transport: StreamableHTTPClientTransport) => {
    const request = provider.redirects.at(-1);
    log(
      `   authorized at ${request?.origin} (client ${provider.clientInformation()?.client_id}, scope "${request?.searchParams.get('scope')}", resource ${request?.searchParams.get('resource')}, PKCE ${request?.searchParams.get('code_challenge_method')})`,
    );
    await transport.finishAuth(provider.takeCode());
    log(`   token issued, scope "${provider.tokens()?.scope ?? ''}"`);
  };

  log(`-> connect ${endpoint} (no token yet)`);
  let transport = new StreamableHTTPClientTransport(new URL(endpoint), options);
  try {
    await client.connect(transport);
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await authorize(transport);
    transport = new StreamableHTTPClientTransport(new URL(endpoint), options);
    log(`-> connect ${endpoint} with the token`);
    await client.connect(transport);
  }
  try {
    log(`   connected, protocol ${transport.protocolVersion ?? '(not negotiated)'}`);
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    log(`-> tools/list: ${names.join(', ')}`);
    const echo = textOf(
      await client.callTool({ name: 'echo', arguments: { message: 'hello from the SDK client' } }),
    );
    log(`-> tools/call echo: ${echo}`);
    const callDeploy = () => client.callTool({ name: 'deploy', arguments: { target: 'demo' } });
    let deployResult: unknown;
    log('-> tools/call deploy');
    try {
      deployResult = await callDeploy();
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error;
      log('   stepped up: a new authorization for every scope the challenge names');
      await authorize(transport);
      log('-> tools/call deploy with the new token');
      deployResult = await callDeploy();
    }
    const deploy = textOf(deployResult);
    log(`   ${deploy}`);
    return {
      challenges,
      authorizations: [...provider.redirects],
      clientId: provider.clientInformation()?.client_id,
      tools: names,
      echo,
      deploy,
      scope: provider.tokens()?.scope,
      accessToken: provider.tokens()?.access_token ?? '',
    };
  } finally {
    await client.close();
  }
}

// Run as a command (not when imported by the tests).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url = process.argv[2];
  if (url === undefined) {
    console.error('usage: npx tsx examples/mcp-client.ts <mcp url>, e.g. http://127.0.0.1:8080/mcp');
    process.exit(2);
  }
  main(url).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
