import { logText } from '../logging/log-text.js';
import { MAX_USERNAME_BYTES } from './credentials.js';
import { parseHash, type StoredHash } from './hashes.js';

/** Rules an htpasswd file is loaded under. */
export interface HtpasswdRules {
  /** DES crypt (8-character passwords, 12-bit salt) only when true. */
  allowWeakHashes: boolean;
  /** bcrypt costs above this are refused at load: one check would cost seconds. */
  maxBcryptCost: number;
  /** SHA-crypt entries naming more rounds than this are refused at load, for the same reason. */
  maxShaCryptRounds: number;
}

/** The users of one htpasswd file, and the hash unknown users are checked against. */
export interface Htpasswd {
  users: ReadonlyMap<string, StoredHash>;
  /** An entry of the file's most common kind and cost: unknown users cost the same. */
  decoy: StoredHash | undefined;
  /** Users listed more than once (the first entry wins, as in Apache). */
  duplicates: readonly string[];
}

/**
 * Parses htpasswd text: CRLF or LF, a UTF-8 BOM, blank lines and `#` comments are fine.
 * Anything else that is not `user:hash` with a known hash throws, naming the line (the
 * hash itself never appears in the message: it may be a plaintext password).
 */
export function parseHtpasswd(text: string, rules: HtpasswdRules): Htpasswd {
  const users = new Map<string, StoredHash>();
  const duplicates: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${index + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`${where} is not "user:hash"`);
    const user = line.slice(0, colon);
    if (Buffer.byteLength(user, 'utf8') > MAX_USERNAME_BYTES) {
      // Such a user could never sign in: credentials with longer names are refused unread.
      throw new Error(`${where} has a user name longer than ${MAX_USERNAME_BYTES} bytes`);
    }
    // The name goes into a message that is logged on a reload: escaped, so that a name holding
    // CR/LF or a terminal escape cannot forge or hide a log line.
    const shown = logText(user, 64);
    const stored = parseHash(line.slice(colon + 1));
    if (stored === undefined) {
      throw new Error(`${where} (user "${shown}") holds a plaintext or unknown hash; use htpasswd -B`);
    }
    if (stored.kind === 'des' && !rules.allowWeakHashes) {
      throw new Error(`${where} (user "${shown}") uses DES crypt; rehash it or set allowWeakHashes: true`);
    }
    if (stored.kind === 'bcrypt' && stored.cost > rules.maxBcryptCost) {
      throw new Error(
        `${where} (user "${shown}") has bcrypt cost ${stored.cost}, above maxBcryptCost ${rules.maxBcryptCost}`,
      );
    }
    // An entry that names no rounds costs the default 5000 (and fewer than 1000 count as 1000).
    const rounds = stored.kind === 'sha-crypt' ? Math.max(1000, stored.params.rounds ?? 5000) : 0;
    if (rounds > rules.maxShaCryptRounds) {
      throw new Error(
        `${where} (user "${shown}") has ${rounds} SHA-crypt rounds, above maxShaCryptRounds ${rules.maxShaCryptRounds}`,
      );
    }
    if (users.has(user)) duplicates.push(user);
    else users.set(user, stored);
  });
  return { users, decoy: mostCommon(users.values()), duplicates };
}

function costOf(stored: StoredHash): string {
  if (stored.kind === 'bcrypt') return `bcrypt:${stored.cost}`;
  if (stored.kind === 'sha-crypt') return `sha-crypt:${stored.params.variant}:${stored.params.rounds ?? 0}`;
  return stored.kind;
}

function mostCommon(hashes: Iterable<StoredHash>): StoredHash | undefined {
  const counts = new Map<string, { count: number; first: StoredHash }>();
  for (const stored of hashes) {
    const key = costOf(stored);
    const entry = counts.get(key);
    if (entry) entry.count++;
    else counts.set(key, { count: 1, first: stored });
  }
  let best: { count: number; first: StoredHash } | undefined;
  for (const entry of counts.values()) if (best === undefined || entry.count > best.count) best = entry;
  return best?.first;
}
