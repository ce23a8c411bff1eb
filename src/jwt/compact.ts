import type { ParsedToken } from './verify.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Canonical base64url only: one token has exactly one spelling (no padding, no stray bits). */
function decodeSegment(segment: string): Buffer | undefined {
  if (!BASE64URL.test(segment)) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined;
}

function jsonObject(bytes: Buffer | undefined): Record<string, unknown> | undefined {
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits and decodes a compact JWS carrying a JWT. Refused (undefined): anything but three
 * canonical base64url segments, a header or payload that is not a JSON object, a header
 * without a string `alg`, a `kid` that is not a string, and any `crit` or `b64` header: we
 * implement no JWS extension, and RFC 7515 says a recipient that does not understand a
 * critical one must refuse the token.
 */
export function parseCompactJwt(token: string): ParsedToken | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1) return undefined;
  const header = jsonObject(decodeSegment(token.slice(0, first)));
  const claims = jsonObject(decodeSegment(token.slice(first + 1, second)));
  const signature = decodeSegment(token.slice(second + 1));
  if (header === undefined || claims === undefined || signature === undefined) return undefined;
  if (typeof header.alg !== 'string') return undefined;
  if (header.kid !== undefined && typeof header.kid !== 'string') return undefined;
  if (header.crit !== undefined || header.b64 !== undefined) return undefined;
  return { alg: header.alg, header, claims, signingInput: token.slice(0, second), signature };
}
