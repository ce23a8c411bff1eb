import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** A fresh directory under the OS temp dir, removed (with its contents) by `remove()`. */
export interface TempDir {
  path: string;
  file(name: string): string;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'portcullis-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rm(path, { recursive: true, force: true }),
  };
}

let renames = 0;

/**
 * Replaces `path` the way editors and Kubernetes do: write a temporary file beside it, then
 * rename it over the original (so the original inode is never written to).
 */
export async function replaceByRename(path: string, text: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${++renames}.tmp`);
  await writeFile(temporary, text);
  await rename(temporary, path);
}
