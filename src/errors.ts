import { brand, isBranded } from './brand.js';
import type { AuthErrorCode } from './refusals.js';

/**
 * Every refusal portcullis makes is an `AuthError`: a status, a stable machine-readable `code`,
 * a human `description` that never contains a credential, and the headers (challenges,
 * `Retry-After`) the response must carry.
 *
 * Apps that render errors themselves receive it through Express `next(err)` or a Koa throw;
 * `expose` is always true because every field was written for the client to read.
 *
 * @example
 * ```ts
 * app.use((err, req, res, next) => {
 *   if (err instanceof AuthError) return res.status(err.status).set(err.headers).json({ error: err.code });
 *   next(err);
 * });
 * ```
 */
// See src/brand.ts: `instanceof` holds across the ESM and CommonJS builds and other bundles.
const AUTH_ERROR = Symbol.for('portcullis.AuthError');
const CONFIG_ERROR = Symbol.for('portcullis.ConfigError');

export class AuthError extends Error {
  /** True for an AuthError of any copy of portcullis (ESM, CommonJS, another bundle). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked, a subclass too
    return isBranded(this, AuthError, AUTH_ERROR, value);
  }

  readonly status: number;
  /** One of the codes in the catalogue (README "Rejections"). */
  readonly code: AuthErrorCode;
  readonly description: string;
  readonly headers: Record<string, string | string[]>;
  /**
   * The JSON body when it is not `{ error, error_description }`: mcpAuth's 403 adds `scope`,
   * and its JSON-RPC refusals (-32020, -32700) answer `{ jsonrpc, id, error: { code, message } }`
   * as MCP clients read them. Undefined for every other refusal.
   */
  readonly body?: Readonly<Record<string, unknown>>;
  readonly expose = true;

  constructor(
    status: number,
    code: AuthErrorCode,
    description: string,
    headers: Record<string, string | string[]> = {},
    body?: Readonly<Record<string, unknown>>,
  ) {
    super(description);
    this.name = 'AuthError';
    // A refusal is an answer, not a fault: its stack would only show library internals (file
    // paths, call sites), and an app's error handler, or Express's default one outside
    // production, renders `stack` into the response. So the stack is the message alone.
    this.stack = `AuthError: ${description}`;
    this.status = status;
    this.code = code;
    this.description = description;
    this.headers = headers;
    if (body !== undefined) this.body = body;
  }
}

/** Thrown at start-up for an option that cannot work; the message names the field. */
export class ConfigError extends Error {
  /** True for a ConfigError of any copy of portcullis (ESM, CommonJS, another bundle). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked, a subclass too
    return isBranded(this, ConfigError, CONFIG_ERROR, value);
  }

  /** The option's full path, e.g. `providers[1].jwks.url`. */
  readonly field: string;
  /** What is wrong with it, without the field. */
  readonly problem: string;

  constructor(field: string, problem: string) {
    super(`portcullis: invalid option \`${field}\`: ${problem}`);
    this.name = 'ConfigError';
    this.field = field;
    this.problem = problem;
  }
}

brand(AuthError, AUTH_ERROR);
brand(ConfigError, CONFIG_ERROR);
