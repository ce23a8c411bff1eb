import type { IncomingMessage } from 'node:http';
import type { PathFolding } from './canonical-path.js';

/**
 * What an adapter hands the core for one request: the Node request underneath the framework,
 * plus the few things only the framework knows. Everything else (reading credentials,
 * stripping them, deciding) happens in the core.
 */
export interface RequestHost {
  /** The Node request: headers and raw headers are read and edited here. */
  readonly message: IncomingMessage;
  /**
   * The canonical path (src/http/canonical-path.ts) of the full request target (Express and
   * Koa `originalUrl`, so a mount does not hide its prefix), without the query string, folded
   * as `folding` says; computed once, when a step first needs it. `undefined` when the target
   * cannot be made unambiguous: whatever decides on the path then refuses with 400.
   */
  readonly path: string | undefined;
  /** How the app's router compares paths (case, trailing slash). */
  readonly folding: PathFolding;
  /** 'http' or 'https', as the framework resolved it. */
  readonly protocol: string;
  /**
   * Rewrites every URL the framework keeps for this request (Express: url, originalUrl and a
   * parsed `req.query`; Koa: url and originalUrl) with the same edit, so a credential removed
   * from the query string is gone from logs and from the app alike.
   */
  editUrl(edit: (url: string) => string): void;
  /**
   * The request body as a body parser that ran before us left it (Express `req.body` after
   * express.json(), Koa `ctx.request.body` after a body parser), only when that parser consumed
   * the stream: the app will act on this value, not on bytes read again. Undefined when the
   * stream was not read (read it then, bounded, and put it back), or when the framework keeps
   * no parsed body. Read by mcpAuth only.
   */
  readonly parsedBody?: { value: unknown } | undefined;
}
