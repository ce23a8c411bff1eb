import { type WatchedFile, watchFile } from '../config/watched-file.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { KeySet } from './key-set.js';
import { StaticKeySource } from './key-source.js';

/** A JWKS file, re-read when it changes; a bad new version keeps the last good keys. */
export class FileKeySource extends StaticKeySource {
  private readonly file: WatchedFile;

  constructor(path: string, field: string, logger: Logger) {
    // The watcher is made before `super`, so its callback reaches the instance through this.
    const self: { source?: FileKeySource } = {};
    let file: WatchedFile;
    try {
      file = watchFile(
        path,
        (text) => {
          if (self.source === undefined) return;
          try {
            self.source.keys = KeySet.parse(text);
          } catch (error) {
            logger.warn(`${field} ${path} ${(error as Error).message}; keeping the previous keys`);
          }
        },
        (reason) => logger.warn(`${field}: ${reason}`),
      );
    } catch {
      throw new ConfigError(field, `cannot read ${path}`);
    }
    let initial: KeySet;
    try {
      initial = KeySet.parse(file.initial);
    } catch (error) {
      file.close();
      throw new ConfigError(field, `${path} ${(error as Error).message}`);
    }
    super(initial);
    this.file = file;
    self.source = this;
  }

  override close(): void {
    this.file.close();
  }
}
