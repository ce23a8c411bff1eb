import { type WatchedFile, watchFile } from '../config/watched-file.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { KeySet } from './key-set.js';
import type { KeySource } from './key-source.js';

/** A JWKS file, re-read when it changes; a bad new version keeps the last good keys. */
export class FileKeySource implements KeySource {
  private keys: KeySet;
  private readonly file: WatchedFile;

  constructor(path: string, field: string, logger: Logger) {
    let file: WatchedFile;
    try {
      file = watchFile(
        path,
        (text) => {
          try {
            this.keys = KeySet.parse(text);
          } catch (error) {
            logger.warn(`${field} ${path} ${(error as Error).message}; keeping the previous keys`);
          }
        },
        (reason) => logger.warn(`${field}: ${reason}`),
      );
    } catch {
      throw new ConfigError(field, `cannot read ${path}`);
    }
    this.file = file;
    try {
      this.keys = KeySet.parse(file.initial);
    } catch (error) {
      file.close();
      throw new ConfigError(field, `${path} ${(error as Error).message}`);
    }
  }

  current(): KeySet {
    return this.keys;
  }
  async ready(): Promise<void> {}
  async refreshForUnknownKid(): Promise<void> {}
  retryAfterSeconds(): number {
    return 1;
  }
  close(): void {
    this.file.close();
  }
}
