import { type AllKeys, atMostOne, type KnownKeys, keysOf, refuseUnknownKeys } from '../config/known-keys.js';
import { ConfigError } from '../errors.js';
import { cookieValues, withCookie, withoutCookie } from '../http/cookies.js';
import { isHeaderSafe } from '../http/header-value.js';
import { deleteHeader, headerOccurrences, type MessageHead, setHeader } from '../http/headers.js';
import { queryValues, withoutQueryParameter, withQueryParameter } from '../http/query.js';

/**
 * A request whose credential fields can be edited: an incoming request (every RequestHost is
 * one) or the request backendAuth prepares for an upstream.
 */
export interface EditableRequest {
  readonly message: MessageHead;
  editUrl(edit: (url: string) => string): void;
}

/**
 * Where a credential travels, shared by every inbound scheme and by backendAuth:
 * a header (with an optional scheme prefix such as `Bearer `), a query parameter or a cookie.
 */
export type CredentialLocation =
  | { header: { name: string; prefix?: string } }
  | { queryParameter: { name: string } }
  | { cookie: { name: string } };

const LOCATION_KEYS = keysOf<CredentialLocation>()(
  'a credential location',
  { header: true, queryParameter: true, cookie: true },
  {
    headers: 'header',
    query: 'queryParameter',
    queryParam: 'queryParameter',
    param: 'queryParameter',
    cookies: 'cookie',
  },
);
type LocationKind = AllKeys<CredentialLocation>;
type Named<K extends LocationKind> = Extract<CredentialLocation, Record<K, unknown>>[K];
const LOCATION_FORM_KEYS: { readonly [K in LocationKind]: KnownKeys } = {
  header: keysOf<Named<'header'>>()('a header location', { name: true, prefix: true }, { scheme: 'prefix' }),
  queryParameter: keysOf<Named<'queryParameter'>>()('a query parameter location', { name: true }),
  cookie: keysOf<Named<'cookie'>>()('a cookie location', { name: true }),
};

/** What was found at a location. */
export type CredentialReading =
  | { kind: 'absent' }
  | { kind: 'found'; value: string }
  /** The credential was sent more than once: RFC 6750 forbids it and we never guess. */
  | { kind: 'repeated' };

/** A location checked once at start-up: reads, strips and writes one credential. */
export interface Locator {
  readonly location: CredentialLocation;
  /** For messages: `header "authorization" (Bearer)`, `query parameter "access_token"`. */
  readonly description: string;
  read(host: EditableRequest): CredentialReading;
  strip(host: EditableRequest): void;
  write(host: EditableRequest, value: string): void;
}

const ABSENT: CredentialReading = { kind: 'absent' };
const REPEATED: CredentialReading = { kind: 'repeated' };
const TOKEN_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function requireName(name: unknown, field: string): string {
  if (typeof name !== 'string' || !TOKEN_NAME.test(name)) {
    throw new ConfigError(field, 'must be a non-empty name made of token characters');
  }
  return name;
}

function single(values: readonly string[]): CredentialReading {
  if (values.length === 0) return ABSENT;
  if (values.length > 1) return REPEATED;
  return { kind: 'found', value: values[0]!.trim() };
}

function headerLocator(name: string, prefix: string | undefined): Locator {
  const key = name.toLowerCase();
  const scheme = prefix?.trim().toLowerCase();
  const lowerPrefix = prefix?.toLowerCase();
  return {
    location: { header: prefix === undefined ? { name } : { name, prefix } },
    description: prefix === undefined ? `header "${key}"` : `header "${key}" (${prefix.trim()})`,
    read(host) {
      const values = headerOccurrences(host.message, key);
      if (values.length !== 1 || lowerPrefix === undefined) return single(values);
      const value = values[0]!.trim();
      // A header carrying another scheme (Basic where we expect Bearer) is not our credential.
      if (
        value.length >= lowerPrefix.length &&
        value.slice(0, lowerPrefix.length).toLowerCase() === lowerPrefix
      ) {
        return { kind: 'found', value: value.slice(lowerPrefix.length).trim() };
      }
      if (value.toLowerCase() === scheme) return { kind: 'found', value: '' };
      return ABSENT;
    },
    strip(host) {
      deleteHeader(host.message, key);
    },
    write(host, value) {
      setHeader(host.message, key, prefix === undefined ? value : `${prefix}${value}`);
    },
  };
}

function queryLocator(name: string): Locator {
  return {
    location: { queryParameter: { name } },
    description: `query parameter "${name}"`,
    read(host) {
      return single(queryValues(host.message.url ?? '', name));
    },
    strip(host) {
      host.editUrl((url) => withoutQueryParameter(url, name));
    },
    write(host, value) {
      host.editUrl((url) => withQueryParameter(url, name, value));
    },
  };
}

function cookieLocator(name: string): Locator {
  return {
    location: { cookie: { name } },
    description: `cookie "${name}"`,
    read(host) {
      const header = host.message.headers.cookie;
      return single(cookieValues(header, name));
    },
    strip(host) {
      const header = host.message.headers.cookie;
      if (header === undefined) return;
      const rest = withoutCookie(header, name);
      if (rest === undefined) deleteHeader(host.message, 'cookie');
      else setHeader(host.message, 'cookie', rest);
    },
    write(host, value) {
      setHeader(host.message, 'cookie', withCookie(host.message.headers.cookie, name, value));
    },
  };
}

/** The default for bearer credentials: `Authorization: Bearer <token>`. */
export const BEARER_LOCATION: CredentialLocation = { header: { name: 'authorization', prefix: 'Bearer ' } };

/** Validates a location at start-up; `field` names the option in error messages. */
export function locator(
  location: CredentialLocation | undefined,
  field: string,
  fallback = BEARER_LOCATION,
): Locator {
  const chosen: unknown = location ?? fallback;
  if (typeof chosen !== 'object' || chosen === null) {
    throw new ConfigError(
      field,
      'must be { header: { name, prefix } }, { queryParameter: { name } } or { cookie: { name } }',
    );
  }
  refuseUnknownKeys(chosen, LOCATION_KEYS, field);
  const kind = atMostOne(
    chosen,
    ['header', 'queryParameter', 'cookie'],
    field,
    'a credential has one location',
  );
  if (kind === undefined) {
    throw new ConfigError(field, 'must name exactly one of header, queryParameter or cookie');
  }
  const named: unknown = (chosen as Record<LocationKind, unknown>)[kind];
  // `{ header: 'x-api-key' }` is a common shorthand mistake: the message shows the right form.
  if (typeof named !== 'object' || named === null) {
    throw new ConfigError(
      `${field}.${kind}`,
      `must be an object: { ${kind}: { name${kind === 'header' ? ', prefix?' : ''} } }`,
    );
  }
  refuseUnknownKeys(named, LOCATION_FORM_KEYS[kind], `${field}.${kind}`);
  if (kind === 'header') {
    const header = named as { name?: unknown; prefix?: unknown };
    const name = requireName(header.name, `${field}.header.name`);
    if (header.prefix !== undefined && (typeof header.prefix !== 'string' || header.prefix.trim() === '')) {
      throw new ConfigError(`${field}.header.prefix`, 'must be a non-empty string such as "Bearer "');
    }
    if (header.prefix !== undefined && !isHeaderSafe(header.prefix)) {
      throw new ConfigError(
        `${field}.header.prefix`,
        'contains CR, LF, NUL, a control or a non-Latin-1 character',
      );
    }
    return headerLocator(name, header.prefix as string | undefined);
  }
  const { name } = named as { name?: unknown };
  if (kind === 'queryParameter') return queryLocator(requireName(name, `${field}.queryParameter.name`));
  return cookieLocator(requireName(name, `${field}.cookie.name`));
}
