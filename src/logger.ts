import { parseOptions, refined, refuse, z } from './config/schema.js';

/** Where portcullis reports what an operator should know (key fetch failures, reloads). */
export interface Logger {
  warn(message: string): void;
  /** Routine events worth keeping (a custom provider's denial reason); warn is used without it. */
  info?(message: string): void;
  /**
   * Each refusal's reason (`jwt: 401 invalid_token (missing claim "aud")`), never a secret.
   * Only called when present: the console logger has none, so refusals are silent by default.
   */
  debug?(message: string): void;
}

/** Messages never contain credentials: callers pass only URLs, paths, counts and reasons. */
export const consoleLogger: Logger = {
  warn(message) {
    console.warn(`[portcullis] ${message}`);
  },
  info(message) {
    console.info(`[portcullis] ${message}`);
  },
};

/**
 * The schema of the `logger` option. Not an options object: a logger (console, pino, winston) has
 * many members besides these three, all of them its own business.
 */
export const LOGGER = refined(
  z.custom<Logger>(
    (value) =>
      typeof value === 'object' && value !== null && typeof (value as Partial<Logger>).warn === 'function',
    { error: 'must be an object with a warn(message) method, such as console or a pino logger' },
  ),
  (logger, ctx) => {
    if (logger.info !== undefined && typeof logger.info !== 'function')
      refuse(ctx, 'must be a method, or left out', 'info');
    if (logger.debug !== undefined && typeof logger.debug !== 'function')
      refuse(ctx, 'must be a method, or left out', 'debug');
  },
);

/**
 * The `logger` option, checked at start-up: `{ warning() {} }` or a logger whose `warn` is not a
 * function would otherwise first fail when there is something to report (a key fetch failing),
 * as a TypeError in a background fetch: an unhandled rejection that stops the process.
 */
export function loggerOption(value: unknown, field = 'logger'): Logger {
  if (value === undefined) return consoleLogger;
  const given = parseOptions(LOGGER, value, field);
  // One wrapper per logger given: anyAuth's members sharing one logger then log a refusal once.
  const known = wrapped.get(given);
  if (known !== undefined) return known;
  // Most reports are made from timers and background fetches: a logger that throws there would
  // be an unhandled rejection that stops the process. Looked up on each call, as given.
  const safe: Logger = {
    warn(message) {
      try {
        given.warn(message);
      } catch {
        // a failing logger must not take the gateway down with it
      }
    },
  };
  if (given.info !== undefined) {
    safe.info = (message) => {
      try {
        given.info?.(message);
      } catch {
        // as for warn
      }
    };
  }
  if (given.debug !== undefined) {
    safe.debug = (message) => {
      try {
        given.debug?.(message);
      } catch {
        // as for warn
      }
    };
  }
  wrapped.set(given, safe);
  return safe;
}

const wrapped = new WeakMap<Logger, Logger>();
