import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { replaceByRename, type TempDir, tempDir } from './support/files.js';
import { frameworks } from './support/frameworks.js';
import { eventually, type RecordingLogger, recorder } from './support/wait.js';

// The last pass over the merged hardening (issue 11): the pieces together.

const all = await frameworks();

const sha = (password: string) => `{SHA}${createHash('sha1').update(password).digest('base64')}`;
const KEY = 'ak_final_5f0c1e9a7b3d4c2e8f61a0b9';

/** Every character that could forge, hide or recolour a log line. */
const FORGERIES = ['\r\n[portcullis] forged', '\n[portcullis] forged', '\r', '\u2028', '\u0085', '\u001b[2J'];
const UNSAFE = /[^\x20-\x7e]/;

describe.each(all)('a reloaded file never puts raw text in a log line on $name', (framework) => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir('portcullis-final-');
  });
  afterAll(async () => {
    await dir.remove();
  });
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  let files = 0;
  const refused = (logger: RecordingLogger) =>
    eventually(() => logger.messages.some((m) => m.includes('keeping the previous version')));
  const expectSafe = (logger: RecordingLogger) => {
    expect(logger.messages.length).toBeGreaterThan(0);
    for (const message of logger.messages) {
      expect(message).not.toMatch(UNSAFE);
      expect(message).not.toContain(KEY);
    }
  };

  it.each(FORGERIES)('a keys file naming a key twice (name with %j)', async (forgery) => {
    const path = dir.file(`keys-${++files}.json`);
    await writeFile(path, JSON.stringify([{ name: 'alice', key: KEY }]));
    const logger = recorder();
    const made = framework.lib.apiKeyAuth({ keys: { file: path }, logger });
    cleanups.push(() => made.close());
    const name = `evil${forgery}`;
    await replaceByRename(
      path,
      JSON.stringify([
        { name, key: KEY },
        { name, key: `${KEY}-other` },
      ]),
    );
    expect(await refused(logger)).toBe(true);
    expectSafe(logger);
  });

  it.each(FORGERIES)('an htpasswd file with a user name holding %j', async (forgery) => {
    const path = dir.file(`users-${++files}.htpasswd`);
    await writeFile(path, `alice:${sha('alice-pw')}\n`);
    const logger = recorder();
    const made = framework.lib.basicAuth({ htpasswd: { file: path }, logger });
    cleanups.push(() => made.close());
    // A plaintext "hash" is refused, and the message names the user.
    await replaceByRename(path, `alice:${sha('alice-pw')}\nev${forgery}il:plain-${KEY}\n`);
    expect(await refused(logger)).toBe(true);
    expectSafe(logger);
  });
});
