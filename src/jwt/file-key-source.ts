import { type ReloadingFile, reloadingFile } from '../config/reloading-file.js';
import type { Logger } from '../logger.js';
import { KeySet } from './key-set.js';
import type { KeySource } from './key-source.js';

/** A JWKS file, re-read when it changes; a bad new version keeps the last good keys. */
export class FileKeySource implements KeySource {
  private readonly file: ReloadingFile<KeySet>;

  constructor(path: string, field: string, logger: Logger) {
    this.file = reloadingFile(path, field, KeySet.parse, logger);
  }

  current(): KeySet {
    return this.file.value;
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
