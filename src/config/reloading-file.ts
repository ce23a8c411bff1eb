import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type WatchedFile, watchFile } from './watched-file.js';

/** A value parsed from a file and parsed again whenever the file changes. */
export interface ReloadingFile<T> {
  readonly value: T;
  close(): void;
}

/** Why a version of the file was refused; an option inside it is named by its path in the file. */
function refusalOf(error: unknown): string {
  return error instanceof ConfigError ? `${error.field} ${error.problem}` : (error as Error).message;
}

/**
 * Reads and parses `path` at start-up (a failure is a ConfigError naming `field`), then
 * re-parses it on every change. A version that fails to parse is reported and the last good
 * value stays in force: a half-written or broken file never takes a gateway's users away.
 */
export function reloadingFile<T>(
  path: string,
  field: string,
  parse: (text: string) => T,
  logger: Logger,
  onReload?: (value: T) => void,
): ReloadingFile<T> {
  if (typeof path !== 'string' || path === '') throw new ConfigError(field, 'must be a file path');
  const state: { value?: T } = {};
  let file: WatchedFile;
  try {
    file = watchFile(
      path,
      (text) => {
        try {
          state.value = parse(text);
        } catch (error) {
          logger.warn(`${field} ${path}: ${refusalOf(error)}; keeping the previous version`);
          return;
        }
        onReload?.(state.value);
      },
      (reason) => logger.warn(`${field}: ${reason}`),
    );
  } catch {
    throw new ConfigError(field, `cannot read ${path}`);
  }
  try {
    state.value = parse(file.initial);
  } catch (error) {
    file.close();
    throw new ConfigError(field, `${path}: ${refusalOf(error)}`);
  }
  return {
    get value() {
      return state.value as T;
    },
    close: () => file.close(),
  };
}
