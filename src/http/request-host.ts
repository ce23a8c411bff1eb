import type { IncomingMessage } from 'node:http';

/**
 * What an adapter hands the core for one request: the Node request underneath the framework,
 * plus the few things only the framework knows. Everything else (reading credentials,
 * stripping them, deciding) happens in the core.
 */
export interface RequestHost {
  /** The Node request: headers and raw headers are read and edited here. */
  readonly message: IncomingMessage;
  /** The path the app routes on, without the query string. */
  readonly path: string;
  /** 'http' or 'https', as the framework resolved it. */
  readonly protocol: string;
  /**
   * Rewrites every URL the framework keeps for this request (Express: url, originalUrl and a
   * parsed `req.query`; Koa: url and originalUrl) with the same edit, so a credential removed
   * from the query string is gone from logs and from the app alike.
   */
  editUrl(edit: (url: string) => string): void;
}
