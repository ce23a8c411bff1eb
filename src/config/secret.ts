import { ConfigError } from '../errors.js';
import { isHeaderSafe } from '../http/header-value.js';
import type { Logger } from '../logger.js';
import { FILE_HINTS } from './known-keys.js';
import { reloadingFile } from './reloading-file.js';
import { atMostOneOf, narrowed, optionsObject, parseOptions, refined, refuse, text, z } from './schema.js';

/**
 * Where a secret comes from: the text itself; a whole-string reference to an environment
 * variable (`$VAR`, `${VAR}`, `${VAR:-default}`); `{ env: 'VAR' }`; or `{ file }`, trimmed and
 * re-read whenever the file changes (a Kubernetes secret mount, a rotated key).
 */
export type SecretSource = string | { env: string } | { file: string };

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

// biome-ignore lint/suspicious/noTemplateCurlyInString: the message names the reference syntax
const SOURCE_FORMS = 'must be a string, "$VAR", "${VAR:-default}", { env } or { file }';

/**
 * The schema of a {@link SecretSource}, checked as written (before any variable or file is
 * read). What a variable or a file holds is checked when it is read, by resolveSecret.
 */
export const SECRET_SOURCE = narrowed<SecretSource>()(
  z.union(
    [
      z.string().refine((text) => !text.startsWith('$') || text.startsWith('$$') || REFERENCE.test(text), {
        // A typo (`${OPENAI_API_KEY`, `$OPENAI-KEY`) must not be sent upstream as the key itself.
        error:
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the message names the reference syntax
          'starts with $ but is not a reference: write $NAME, ${NAME} or ${NAME:-default} (or $$ for a literal $)',
      }),
      refined(
        optionsObject(
          'a secret reference',
          {
            /** An environment variable holding the secret. */
            env: z.string({ error: 'must be an environment variable name' }).regex(ENV_NAME).optional(),
            /** A file holding the secret (trimmed), re-read whenever it changes. */
            file: text('must be a path').optional(),
          },
          {
            ...FILE_HINTS,
            var: 'env',
            variable: 'env',
            name: 'env',
            value: { say: 'give the secret itself as a string' },
          },
          SOURCE_FORMS,
        ),
        (reference, ctx) => {
          atMostOneOf<typeof reference>(['env', 'file'], 'a secret comes from one place')(reference, ctx);
          if (reference.env === undefined && reference.file === undefined) refuse(ctx, SOURCE_FORMS);
        },
      ),
    ],
    { error: SOURCE_FORMS },
  ),
);

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
  const given = parseOptions(SECRET_SOURCE, source, field);
  if (typeof given === 'string') {
    // `$$` escapes a literal leading `$`.
    if (given.startsWith('$$')) return fixed(checked(given.slice(1), field));
    const reference = REFERENCE.exec(given);
    if (reference === null) return fixed(checked(given, field));
    return fixed(fromEnvironment(reference[1] ?? reference[2]!, reference[3], field, env));
  }
  if ('env' in given && given.env !== undefined)
    return fixed(fromEnvironment(given.env, undefined, field, env));
  const file = reloadingFile(
    (given as { file: string }).file,
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

/** Like {@link resolveSecret}, for an option that may be left out. */
export function optionalSecret(
  source: unknown,
  field: string,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Secret | undefined {
  return source === undefined ? undefined : resolveSecret(source, field, logger, env);
}
