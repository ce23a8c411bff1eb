import type { Hint } from '../config/known-keys.js';
import {
  atMostOneOf,
  type Locked,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  z,
} from '../config/schema.js';
import { resolveSecret, type SecretSource } from '../config/secret.js';
import { BEARER_LOCATION, type CredentialLocation, locator } from '../credentials/location.js';
import { ConfigError } from '../errors.js';
import { isCookieValue } from '../http/cookies.js';
import { isHeaderSafe } from '../http/header-value.js';
import { headerOccurrences, setHeader } from '../http/headers.js';
import { inboundCredential, MCP_METHOD } from '../identity.js';
import type { Logger } from '../logger.js';
import type { CredentialKind } from './kind.js';
import { credentialLocation, requiredSecret, secretSource } from './option-parts.js';
import { CredentialFetchError } from './refreshing.js';

const MCP_PASSTHROUGH_REFUSED =
  'passthrough refused: the token on this request was accepted by mcpAuth, and MCP authorization forbids passing it to upstream APIs (token passthrough); give the upstream its own credential';

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

/** The file or variable name of `key: { file }` / `key: { env }`, checked when resolved. */
const secretReference = () => z.custom<string>(() => true);

/**
 * The object forms of `key:` (the string form is checked as a secret). `{ file, location }` is
 * refused: read as agentgateway reads it, the location is ignored; read as ours, it is
 * `{ value: { file }, location }`. The user writes which.
 */
const KEY = refined(
  optionsObject(
    'key',
    {
      value: secretSource().optional(),
      location: credentialLocation().optional(),
      file: secretReference().optional(),
      env: secretReference().optional(),
    },
    { ...LOCATION_HINTS, key: 'value', apiKey: 'value', secret: 'value', token: 'value' },
  ),
  (key, ctx) => {
    atMostOneOf<typeof key>(['value', 'file', 'env'], 'the key comes from one place')(key, ctx);
    const form = key.file !== undefined ? 'file' : key.env !== undefined ? 'env' : undefined;
    if (form !== undefined && key.value === undefined && key.location !== undefined) {
      refuse(
        ctx,
        `goes with \`key: { value, location }\`: write \`key: { value: { ${form} }, location }\``,
        'location',
      );
    }
  },
);

const PASSTHROUGH = optionsObject(
  'passthrough',
  { location: credentialLocation().optional() },
  LOCATION_HINTS,
);
const passthroughLocked: Locked<PassthroughBackendOptions, z.output<typeof PASSTHROUGH>> = true;

const PRESET_HINTS: Readonly<Record<string, Hint>> = {
  key: 'apiKey',
  value: 'apiKey',
  token: 'apiKey',
  secret: 'apiKey',
  location: {
    say: 'the preset fixes the location; use `key: { value, location }` for a location of your own',
  },
};
const API_VERSION_IN_URL = { say: "put `api-version` in the upstream URL's query" } as const;
const PRESETS = {
  anthropic: optionsObject(
    'anthropic',
    {
      apiKey: requiredSecret(),
      version: z
        .string({ error: 'must be a date such as "2023-06-01"' })
        .regex(/^\d{4}-\d{2}-\d{2}$/)
        .optional(),
    },
    { ...PRESET_HINTS, anthropicVersion: 'version', apiVersion: 'version' },
  ),
  azureOpenAI: optionsObject(
    'azureOpenAI',
    { apiKey: requiredSecret() },
    { ...PRESET_HINTS, apiVersion: API_VERSION_IN_URL, version: API_VERSION_IN_URL },
  ),
  openai: optionsObject(
    'openai',
    { apiKey: requiredSecret() },
    { ...PRESET_HINTS, organization: { say: 'send `OpenAI-Organization` from the client or the proxy' } },
  ),
} as const;
const anthropicLocked: Locked<AnthropicPreset, z.output<(typeof PRESETS)['anthropic']>> = true;
const presetLocked: Locked<ApiKeyPreset, z.output<(typeof PRESETS)['openai']>> = true;
// The documented interfaces and the schemas describe one shape each (checked at compile time).
void [passthroughLocked, anthropicLocked, presetLocked];

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

/** Builds the key kind from `key:` in any of its forms. */
export function keyOptionKind(option: unknown, logger: Logger): CredentialKind {
  // `key: '$OPENAI_API_KEY'` is short for `key: { value: '$OPENAI_API_KEY' }`.
  if (typeof option === 'string') return keyKind(option, 'key', undefined, logger);
  const key = parseOptions(KEY, option, 'key');
  if (key.file !== undefined) return keyKind({ file: key.file }, 'key', undefined, logger);
  if (key.env !== undefined) return keyKind({ env: key.env }, 'key', undefined, logger);
  return keyKind(key.value as SecretSource, 'key.value', key.location, logger);
}

/** The presets: each is a key at the location its provider documents. */
export function presetKind(
  preset: 'anthropic' | 'azureOpenAI' | 'openai',
  options: AnthropicPreset | ApiKeyPreset,
  logger: Logger,
): CredentialKind {
  // `azureOpenAI: null` (a YAML key left empty) lacks its key, as `{}` does.
  if (typeof options !== 'object' || options === null)
    throw new ConfigError(`${preset}.apiKey`, 'is required');
  const parsed = parseOptions(PRESETS[preset], options, preset);
  const secretField = `${preset}.apiKey`;
  switch (preset) {
    case 'anthropic': {
      const version = (parsed as AnthropicPreset).version ?? '2023-06-01';
      return keyKind(parsed.apiKey, secretField, { header: { name: 'x-api-key' } }, logger, {
        'anthropic-version': version,
      });
    }
    case 'azureOpenAI':
      return keyKind(parsed.apiKey, secretField, { header: { name: 'api-key' } }, logger);
    case 'openai':
      return keyKind(parsed.apiKey, secretField, BEARER_LOCATION, logger);
  }
}

/** Builds the passthrough kind. */
export function passthroughKind(options: PassthroughBackendOptions): CredentialKind {
  const { location } = parseOptions(PASSTHROUGH, options, 'passthrough');
  const at = locator(location, 'passthrough.location', BEARER_LOCATION);
  return {
    name: 'passthrough',
    needsUpstream: false,
    apply(request, auth) {
      // MCP authorization ("Token Passthrough"): a server MUST NOT pass the client's token on
      // to upstream APIs. mcpAuth files its token under 'mcp', which nothing forwards; this
      // refuses (502, logged) rather than forward a request without the credential it expects.
      if (auth !== undefined && inboundCredential(auth, MCP_METHOD) !== undefined)
        throw new CredentialFetchError(MCP_PASSTHROUGH_REFUSED, 'refused');
      const token = auth === undefined ? undefined : inboundCredential(auth, 'jwt');
      if (token !== undefined) at.write(request, token);
    },
    close() {},
  };
}
