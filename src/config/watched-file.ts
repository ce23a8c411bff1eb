import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

/** A file whose text is read at start-up and again whenever it changes on disk. */
export interface WatchedFile {
  /** The text read at start-up. */
  readonly initial: string;
  close(): void;
}

const SETTLE_MS = 30;

/**
 * Reads `path` now (throwing if it cannot be read) and calls `onChange` with the new text
 * each time it changes. The directory is watched, not the file: editors and Kubernetes
 * secret mounts replace a file by rename (or swap a symlinked directory), which a watch on
 * the old inode would never report. Events are coalesced and the text compared, so a burst of
 * events or a touch without a change does nothing. The watcher never keeps the process alive.
 */
export function watchFile(
  path: string,
  onChange: (text: string) => void,
  onError: (reason: string) => void,
): WatchedFile {
  const absolute = resolve(path);
  let last = readFileSync(absolute, 'utf8');
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reread = async () => {
    timer = undefined;
    if (closed) return;
    let text: string;
    try {
      text = await readFile(absolute, 'utf8');
    } catch (error) {
      // A replace by rename has a moment with no file: the next event brings it back.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onError(`cannot read ${basename(absolute)}`);
      return;
    }
    if (closed || text === last) return;
    last = text;
    onChange(text);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(absolute), { persistent: false }, () => {
      if (timer !== undefined || closed) return;
      timer = setTimeout(reread, SETTLE_MS);
      timer.unref();
    });
    watcher.on('error', () => onError(`stopped watching ${basename(absolute)}`));
  } catch {
    onError(`cannot watch ${basename(absolute)}; changes will not be picked up`);
  }

  return {
    initial: last,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
    },
  };
}
