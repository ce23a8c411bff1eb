import type { AuthError } from '../errors.js';

/** A refusal ready to write: the adapters copy these three fields and nothing else. */
export interface Rejection {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/** DESIGN.md section 5: JSON `{ error, error_description }`, never cached, never internals. */
export function renderRejection(error: AuthError): Rejection {
  return {
    status: error.status,
    headers: {
      ...error.headers,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    },
    body: JSON.stringify({ error: error.code, error_description: error.description }),
  };
}
