import { ConfigError } from '../errors.js';
import { isHeaderSafe } from '../http/header-value.js';
import type { Logger } from '../logger.js';
import { atMostOne, FILE_HINTS, keysOf, refuseUnknownKeys } from './known-keys.js';
import { reloadingFile } from './reloading-file.js';

/**
 * Where a secret comes from: the text itself; a whole-string reference to an environment
 * variable (`$VAR`, `${VAR}`, `${VAR:-default}`); `{ env: 'VAR' }`; or `{ file }`, trimmed and
 * re-read whenever the file changes (a Kubernetes secret mount, a rotated key).
 */
export type SecretSource = string | { env: string } | { file: string };

const SECRET_REFERENCE_KEYS = keysOf<Exclude<SecretSource, string>>()(
  'a secret reference',
  { env: true, file: true },
  {
    ...FILE_HINTS,
    var: 'env',
    variable: 'env',
    name: 'env',
    value: { say: 'give the secret itself as a string' },
  },
);

/** A secret resolved at start-up. `value` is always the current, checked text. */
export interface Secret {
  readonly value: string;
  close(): void;
}

// Only a value that is wholly a reference is resolved: a literal key that happens to contain
// a `$` must reach the upstream unchanged, never be half-substituted. A value that starts with
// `$` but is no reference is refused, as the typo it almost always is.
const REFERENCE = /^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Whether `text` is written as a secret reference (`$NAME`, `${NAME}`, `${NAME:-default}`).
 * For options that take the secret itself (an API-key record's `key`, jwtAuth's `secret`): there
 * such text would be the key, guessable by anyone who reads the README, not the variable's value.
 */
export function isSecretReference(text: string): boolean {
  return REFERENCE.test(text);
}

/** Checks a secret's text; the message never repeats the text. */
function checked(text: string, field: string): string {
  if (text === '') throw new ConfigError(field, 'is empty');
  if (!isHeaderSafe(text)) {
    throw new ConfigError(
      field,
      'contains a control character (CR, LF, NUL, TAB, DEL, C1) or a character outside printable ASCII',
    );
  }
  return text;
}

function fromEnvironment(
  name: string,
  fallback: string | undefined,
  field: string,
  env: NodeJS.ProcessEnv,
): string {
  const value = env[name];
  // As in a shell, `${VAR:-default}` also applies the default when VAR is set but empty.
  if (value !== undefined && value !== '') return checked(value, `${field} (from $${name})`);
  if (fallback !== undefined) return checked(fallback, `${field} (default of $${name})`);
  throw new ConfigError(field, `environment variable ${name} is not set`);
}

function fixed(value: string): Secret {
  return { value, close() {} };
}

/** Resolves a secret at start-up; every problem is a ConfigError naming `field`. */
export function resolveSecret(
  source: unknown,
  field: string,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Secret {
  if (typeof source === 'string') {
    // `$$` escapes a literal leading `$`.
    if (source.startsWith('$$')) return fixed(checked(source.slice(1), field));
    const reference = REFERENCE.exec(source);
    if (reference === null && source.startsWith('$')) {
      // A typo (`${OPENAI_API_KEY`, `$OPENAI-KEY`) must not be sent upstream as the key itself.
      throw new ConfigError(
        field,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the message names the reference syntax
        'starts with $ but is not a reference: write $NAME, ${NAME} or ${NAME:-default} (or $$ for a literal $)',
      );
    }
    if (reference === null) return fixed(checked(source, field));
    return fixed(fromEnvironment(reference[1] ?? reference[2]!, reference[3], field, env));
  }
  if (typeof source === 'object' && source !== null && !Array.isArray(source)) {
    refuseUnknownKeys(source, SECRET_REFERENCE_KEYS, field);
    const form = atMostOne(source, ['env', 'file'], field, 'a secret comes from one place');
    if (form === 'env') {
      const name = (source as { env: unknown }).env;
      if (typeof name !== 'string' || !ENV_NAME.test(name)) {
        throw new ConfigError(`${field}.env`, 'must be an environment variable name');
      }
      return fixed(fromEnvironment(name, undefined, field, env));
    }
    if (form === 'file') {
      const path = (source as { file: unknown }).file;
      const file = reloadingFile(
        path as string,
        `${field}.file`,
        (text) => checked(text.trim(), `${field}.file`),
        logger,
      );
      return {
        get value() {
          return file.value;
        },
        close: () => file.close(),
      };
    }
  }
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the message names the reference syntax
  throw new ConfigError(field, 'must be a string, "$VAR", "${VAR:-default}", { env } or { file }');
}

/** Like {@link resolveSecret}, for an option that may be left out. */
export function optionalSecret(
  source: unknown,
  field: string,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Secret | undefined {
  return source === undefined ? undefined : resolveSecret(source, field, logger, env);
}
