import type { AuthError } from '../errors.js';
import { headerOccurrences, type MessageHead } from '../http/headers.js';
import { type JsonRpcId, jsonRpcRefusal } from '../refusals.js';

/**
 * What an MCP request asks to do, read from the mirrored headers (MCP 2026-07-28: `Mcp-Method`,
 * `Mcp-Name`) and from the JSON-RPC body. Pure: no I/O, no options.
 */

/** The first revision whose clients mirror the method and name into headers (and servers check them). */
export const HEADER_MIRRORING_VERSION = '2026-07-28';

/** One JSON-RPC message as far as authorization cares: its method, and the name it acts on. */
export interface Operation {
  readonly method: string | undefined;
  readonly name: string | undefined;
}

/** Where `Mcp-Name` comes from in the body, per method (MCP 2026-07-28 "Standard headers"). */
const NAME_FIELD: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** What the headers say before any body is read. */
export type Mirrored =
  /** An earlier revision (or none): the body alone says what the request does. */
  | { kind: 'body' }
  /** 2026-07-28 or later: the mirrored method (and name), so scopes are known without the body. */
  | { kind: 'headers'; operation: Operation }
  /** 2026-07-28 or later with a mirrored header repeated: refused once the caller is known. */
  | { kind: 'refused'; error: AuthError };

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `version` (an MCP-Protocol-Version value) is one that requires header-body validation. */
export function mirrorsHeaders(version: string | undefined): boolean {
  return version !== undefined && DATE.test(version) && version >= HEADER_MIRRORING_VERSION;
}

/**
 * `=?base64?...?=` is how a client sends a name that is not a header-safe string (MCP
 * 2026-07-28); anything else is the name as sent.
 */
function decodedName(value: string): string | undefined {
  const encoded = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(value);
  if (encoded === null) return value;
  // Bytes that are not UTF-8: undefined (the caller refuses the header).
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded[1]!, 'base64'));
  } catch {
    return undefined;
  }
}

/** The mirrored headers of a POST, read from the raw header list (a repeat is caught there). */
export function readMirrored(message: MessageHead): Mirrored {
  const versions = headerOccurrences(message, 'mcp-protocol-version');
  if (versions.length > 1)
    return { kind: 'refused', error: mismatch('MCP-Protocol-Version was sent more than once') };
  if (!mirrorsHeaders(versions[0]?.trim())) return { kind: 'body' };
  const methods = headerOccurrences(message, 'mcp-method');
  const names = headerOccurrences(message, 'mcp-name');
  if (methods.length > 1) return { kind: 'refused', error: mismatch('Mcp-Method was sent more than once') };
  if (names.length > 1) return { kind: 'refused', error: mismatch('Mcp-Name was sent more than once') };
  // No Mcp-Method: right for a JSON-RPC response the client posts back (it has no method), and
  // refused by headerMismatch once the body shows a request or notification.
  const method = methods[0]?.trim();
  if (method === undefined) return { kind: 'headers', operation: { method: undefined, name: undefined } };
  if (!Object.hasOwn(NAME_FIELD, method)) return { kind: 'headers', operation: { method, name: undefined } };
  const sent = names[0]?.trim();
  const name = sent === undefined ? undefined : decodedName(sent);
  // A base64 name whose bytes are not UTF-8 names nothing a JSON body can hold: it matches no
  // body (not even one holding the encoded text itself), so it is a mismatch.
  if (sent !== undefined && name === undefined)
    return { kind: 'refused', error: mismatch('Mcp-Name is base64 of bytes that are not UTF-8') };
  return { kind: 'headers', operation: { method, name } };
}

function mismatch(message: string, id: JsonRpcId = null): AuthError {
  return jsonRpcRefusal(-32020, `Header mismatch: ${message}`, id);
}

/** The messages of a parsed JSON-RPC body (one, or a batch), or the JSON-RPC refusal for it. */
export function messagesOf(
  body: unknown,
): { messages: Operation[]; ids: JsonRpcId[] } | { error: AuthError } {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) return { error: jsonRpcRefusal(-32600, 'Invalid Request: empty batch', null) };
  const messages: Operation[] = [];
  const ids: JsonRpcId[] = [];
  for (const item of list) {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      return { error: jsonRpcRefusal(-32600, 'Invalid Request: not a JSON-RPC message', null) };
    const record = item as Record<string, unknown>;
    const id = typeof record.id === 'string' || typeof record.id === 'number' ? record.id : null;
    const method = record.method;
    if (method !== undefined && typeof method !== 'string')
      return { error: jsonRpcRefusal(-32600, 'Invalid Request: method must be a string', id) };
    const field = method === undefined || !Object.hasOwn(NAME_FIELD, method) ? undefined : NAME_FIELD[method];
    const params = record.params;
    let name: string | undefined;
    if (field !== undefined && typeof params === 'object' && params !== null) {
      const value = (params as Record<string, unknown>)[field];
      // A tool name that is not a string is no tool anyone configured: it needs no tool scope,
      // and the server refuses the call itself.
      if (typeof value === 'string') name = value;
    }
    messages.push({ method, name });
    ids.push(id);
  }
  return { messages, ids };
}

/**
 * MCP 2026-07-28: an intermediary MUST check that the mirrored headers say what the body says
 * (else an upstream that routes or authorizes on the body could be told one thing while the
 * gateway checked another). Every message of a batch must match.
 */
export function headerMismatch(
  mirrored: Operation,
  messages: readonly Operation[],
  ids: readonly JsonRpcId[],
): AuthError | undefined {
  for (const [index, message] of messages.entries()) {
    if (message.method !== mirrored.method)
      return mismatch(
        mirrored.method === undefined
          ? 'The Mcp-Method header is missing'
          : 'Mcp-Method does not match the method in the body',
        ids[index],
      );
    if (message.name !== mirrored.name)
      return mismatch(
        mirrored.name === undefined ? 'The Mcp-Name header is missing' : 'Mcp-Name does not match the body',
        ids[index],
      );
  }
  return undefined;
}

/** Parses JSON text, or answers -32700 (JSON-RPC "Parse error"). */
export function parsedJson(text: string): { value: unknown } | { error: AuthError } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: jsonRpcRefusal(-32700, 'Parse error: the body is not JSON', null) };
  }
}
