import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/**
 * The demo's MCP server, made with the official SDK: two tools behind mcpAuth. `echo` needs only
 * the scope every MCP request needs; `deploy` needs `deploy` too, so a client is stepped up
 * (403 insufficient_scope) the first time it calls it.
 */
export const MCP_PATH = '/mcp';
export const MCP_SCOPES = { required: ['mcp:tools'], tools: { deploy: ['deploy'] } };
/** Every scope the demo's authorization server offers for an MCP resource. */
export const MCP_ALL_SCOPES = ['mcp:tools', 'deploy'];

function demoMcpServer(gateway: string): McpServer {
  const server = new McpServer({ name: `portcullis-demo (${gateway})`, version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Echoes its message back (scope mcp:tools).',
      inputSchema: { message: z.string().max(10_000).optional() },
    },
    ({ message }) => ({ content: [{ type: 'text', text: `echo: ${message ?? ''}` }] }),
  );
  server.registerTool(
    'deploy',
    {
      description: 'Pretends to deploy (scopes mcp:tools and deploy).',
      inputSchema: { target: z.string().max(200).optional() },
    },
    ({ target }) => ({ content: [{ type: 'text', text: `deployed ${target ?? 'demo'} (${gateway})` }] }),
  );
  return server;
}

/**
 * The SDK's stateless Streamable HTTP pattern: one server and transport per HTTP request, closed
 * with the response. Never throws. `body` is the JSON a body parser already read, or undefined
 * for the transport to read it from the request (the demo: mcpAuth read it and put it back).
 */
export async function handleMcp(
  gateway: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const server = demoMcpServer(gateway);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch {
    // The SDK answers protocol errors itself; anything else is a 500 without details.
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"server_error"}');
    } else res.end();
  }
}
