import { atMostOne, type Hint, keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { resolveSecret, type SecretSource } from '../config/secret.js';
import { BEARER_LOCATION, type CredentialLocation, locator } from '../credentials/location.js';
import { ConfigError } from '../errors.js';
import { isCookieValue } from '../http/cookies.js';
import { isHeaderSafe } from '../http/header-value.js';
import { headerOccurrences, setHeader } from '../http/headers.js';
import { inboundCredential } from '../identity.js';
import type { Logger } from '../logger.js';
import type { CredentialKind } from './kind.js';
import { CredentialFetchError } from './refreshing.js';

/** A static key: text, `$VAR`, `${VAR:-default}`, `{ env }` or `{ file }` (re-read on change). */
export interface KeyBackendOptions {
  value: SecretSource;
  /** Default `Authorization: Bearer <value>`. */
  location?: CredentialLocation;
}

/** `{ apiKey }` for the presets: Anthropic, Azure OpenAI, OpenAI. */
export interface ApiKeyPreset {
  apiKey: SecretSource;
}

/** Anthropic also takes the API version it should speak; the client's own wins. */
export interface AnthropicPreset extends ApiKeyPreset {
  /** Sent as `anthropic-version` when the client sent none. Default `2023-06-01`. */
  version?: string;
}

/** Forwards the token jwtAuth validated (and stripped) at `location`; nothing when there was none. */
export interface PassthroughBackendOptions {
  /** Default `Authorization: Bearer <token>`. */
  location?: CredentialLocation;
}

const LOCATION_HINTS: Readonly<Record<string, Hint>> = {
  header: 'location: { header: { name, prefix } }',
  headerName: 'location: { header: { name } }',
  prefix: 'location: { header: { name, prefix } }',
  query: 'location: { queryParameter: { name } }',
  cookie: 'location: { cookie: { name } }',
};

/**
 * What `key:` takes: `{ value, location }`, or the secret alone, as a string, `{ file }`
 * (agentgateway's `key: { file }`) or `{ env }`, sent at the default location.
 */
export type KeyOption = KeyBackendOptions | SecretSource;

/** The keys of `key: { ... }` (the string form is checked as a secret). */
const KEY_KIND_KEYS = keysOf<Exclude<KeyOption, string>>()(
  'key',
  { value: true, location: true, file: true, env: true },
  {
    ...LOCATION_HINTS,
    key: 'value',
    apiKey: 'value',
    secret: 'value',
    token: 'value',
  },
);

const PASSTHROUGH_KEYS = keysOf<PassthroughBackendOptions>()(
  'passthrough',
  { location: true },
  LOCATION_HINTS,
);

const PRESET_HINTS: Readonly<Record<string, Hint>> = {
  key: 'apiKey',
  value: 'apiKey',
  token: 'apiKey',
  secret: 'apiKey',
  location: {
    say: 'the preset fixes the location; use `key: { value, location }` for a location of your own',
  },
};
const PRESET_KEYS = {
  anthropic: keysOf<AnthropicPreset>()(
    'anthropic',
    { apiKey: true, version: true },
    { ...PRESET_HINTS, anthropicVersion: 'version', apiVersion: 'version' },
  ),
  azureOpenAI: keysOf<ApiKeyPreset>()(
    'azureOpenAI',
    { apiKey: true },
    {
      ...PRESET_HINTS,
      apiVersion: { say: "put `api-version` in the upstream URL's query" },
      version: { say: "put `api-version` in the upstream URL's query" },
    },
  ),
  openai: keysOf<ApiKeyPreset>()(
    'openai',
    { apiKey: true },
    {
      ...PRESET_HINTS,
      organization: { say: 'send `OpenAI-Organization` from the client or the proxy' },
    },
  ),
} as const;

/** A key written at one location, plus headers the upstream expects when the client sent none. */
export function keyKind(
  value: SecretSource,
  valueField: string,
  location: CredentialLocation | undefined,
  logger: Logger,
  defaults: Record<string, string> = {},
): CredentialKind {
  const at = locator(location, 'key.location', BEARER_LOCATION);
  const secret = resolveSecret(value, valueField, logger);
  // A cookie value has a narrower alphabet than a header: `key; admin=1` would be two cookies.
  const cookie = 'cookie' in at.location;
  if (cookie && !isCookieValue(secret.value)) {
    secret.close();
    throw new ConfigError(
      valueField,
      'is written as a cookie and holds a space, `"`, `,`, `;` or `\\`, which would split it into other cookies',
    );
  }
  const fallbacks = Object.entries(defaults);
  return {
    name: 'key',
    needsUpstream: false,
    apply(request) {
      const current = secret.value; // a { file } secret may have changed since start-up
      if (cookie && !isCookieValue(current))
        throw new CredentialFetchError('the key is not a valid cookie value', 'refused');
      at.write(request, current);
      for (const [name, fallback] of fallbacks) {
        // The client's own value wins, rewritten under the one spelling: its `anthropic_version`
        // beside it would reach an upstream that folds `_` and `-` as a second value. One with a
        // byte we would never write ourselves (a C1 control, obs-text) gets the default.
        const sent = headerOccurrences(request.message, name).join(', ');
        setHeader(request.message, name, sent !== '' && isHeaderSafe(sent) ? sent : fallback);
      }
    },
    close: () => secret.close(),
  };
}

/**
 * Builds the key kind from `key:` in any of its forms. `{ file, location }` is refused: read
 * as agentgateway reads it, the location is ignored; read as ours, it is `{ value: { file },
 * location }`. The user writes which.
 */
export function keyOptionKind(option: unknown, logger: Logger): CredentialKind {
  // `key: '$OPENAI_API_KEY'` is short for `key: { value: '$OPENAI_API_KEY' }`.
  if (typeof option === 'string') return keyKind(option, 'key', undefined, logger);
  refuseUnknownKeys(option, KEY_KIND_KEYS, 'key');
  const key = option as Partial<Record<'value' | 'location' | 'file' | 'env', unknown>>;
  const form = atMostOne(key, ['value', 'file', 'env'], 'key', 'the key comes from one place');
  if (form === 'file' || form === 'env') {
    if (key.location !== undefined) {
      throw new ConfigError(
        'key.location',
        `goes with \`key: { value, location }\`: write \`key: { value: { ${form} }, location }\``,
      );
    }
    return keyKind({ [form]: key[form] } as SecretSource, 'key', undefined, logger);
  }
  return keyKind(key.value as SecretSource, 'key.value', key.location as CredentialLocation, logger);
}

/** The presets: each is a key at the location its provider documents. */
export function presetKind(
  preset: 'anthropic' | 'azureOpenAI' | 'openai',
  options: AnthropicPreset | ApiKeyPreset,
  logger: Logger,
): CredentialKind {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError(`${preset}.apiKey`, 'is required');
  refuseUnknownKeys(options, PRESET_KEYS[preset], preset);
  if (options.apiKey === undefined) throw new ConfigError(`${preset}.apiKey`, 'is required');
  const secretField = `${preset}.apiKey`;
  switch (preset) {
    case 'anthropic': {
      const version = (options as AnthropicPreset).version ?? '2023-06-01';
      if (typeof version !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
        throw new ConfigError('anthropic.version', 'must be a date such as "2023-06-01"');
      }
      return keyKind(options.apiKey, secretField, { header: { name: 'x-api-key' } }, logger, {
        'anthropic-version': version,
      });
    }
    case 'azureOpenAI':
      return keyKind(options.apiKey, secretField, { header: { name: 'api-key' } }, logger);
    case 'openai':
      return keyKind(options.apiKey, secretField, BEARER_LOCATION, logger);
  }
}

/** Builds the passthrough kind. */
export function passthroughKind(options: PassthroughBackendOptions): CredentialKind {
  refuseUnknownKeys(options, PASSTHROUGH_KEYS, 'passthrough');
  const at = locator(options.location, 'passthrough.location', BEARER_LOCATION);
  return {
    name: 'passthrough',
    needsUpstream: false,
    apply(request, auth) {
      const token = auth === undefined ? undefined : inboundCredential(auth, 'jwt');
      if (token !== undefined) at.write(request, token);
    },
    close() {},
  };
}
