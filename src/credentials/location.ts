import { narrowed, optionsObject, parseOptions, refined, refuse, z } from '../config/schema.js';
import { cookieOccurrences, isCookieSpelling, withCookie, withoutCookie } from '../http/cookies.js';
import { isHeaderSafe } from '../http/header-value.js';
import {
  deleteHeader,
  FORWARDER_HEADERS,
  headerOccurrences,
  headerSpellingKey,
  type MessageHead,
  sameSpelling,
  setHeader,
} from '../http/headers.js';
import { queryOccurrences, withoutQueryParameter, withQueryParameter } from '../http/query.js';

/**
 * A request whose credential fields can be edited: an incoming request (every RequestHost is
 * one) or the request backendAuth prepares for an upstream.
 */
export interface EditableRequest {
  readonly message: MessageHead;
  editUrl(edit: (url: string) => string): void;
  /**
   * Drops the named cookies from what the framework already parsed out of the Cookie header
   * (Express with cookie-parser: `req.cookies`, `req.signedCookies`); absent when nothing is.
   */
  forgetCookies?(spelled: (name: string) => boolean): void;
}

/**
 * Where a credential travels, shared by every inbound scheme and by backendAuth:
 * a header (with an optional scheme prefix such as `Bearer `), a query parameter or a cookie.
 */
export type CredentialLocation =
  | { header: { name: string; prefix?: string } }
  | { queryParameter: { name: string } }
  | { cookie: { name: string } };

/** What was found at a location. */
export type CredentialReading =
  | { kind: 'absent' }
  /**
   * `scheme`: the auth-scheme the client used (lower case), only from a locator that reads
   * several (see {@link authorizationSchemes}).
   */
  | { kind: 'found'; value: string; scheme?: string }
  /** The credential was sent more than once: RFC 6750 forbids it and we never guess. */
  | { kind: 'repeated' }
  /**
   * Something is there that a reader downstream may take for the credential, but not in the
   * one spelling we read: `Bearer<TAB>token`, `access_token[]=...`, `SID=...` for `sid`, a
   * value that does not percent-decode. Present and invalid, never "absent".
   */
  | { kind: 'malformed' };

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
const MALFORMED: CredentialReading = { kind: 'malformed' };
const TOKEN_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** An auth-scheme prefix as RFC 7235 writes it: a token, then the space before the credentials. */
const SCHEME_PREFIX = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ +$/;
const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const SP = 0x20;

/**
 * Every occurrence found at a location, as one reading. Values are never trimmed: a key has
 * exactly one spelling, and `key `, `key%20` or `key\u00a0` is another (invalid) credential.
 * An undefined occurrence is one in a spelling we do not read.
 */
function single(values: readonly (string | undefined)[]): CredentialReading {
  if (values.length === 0) return ABSENT;
  if (values.length > 1) return REPEATED;
  const value = values[0];
  return value === undefined ? MALFORMED : { kind: 'found', value };
}

/**
 * Reads `<scheme> 1*SP <credentials>` (RFC 7235 section 2.1). A value whose auth-scheme
 * token is ours but whose separator is anything else (`Bearer<TAB>t`, `Bearer\u00a0t`,
 * `Bearer:t`, `Bearer,t`) is our credential, malformed: were it "absent", an optional scheme
 * would hand it to the app unchecked. A longer token (`Bearerish t`) or another scheme
 * (`Basic ...` where Bearer is expected) is not ours. Node has already removed the field's
 * surrounding whitespace.
 */
function schemeCredential(value: string, scheme: string): CredentialReading {
  const length = scheme.length;
  if (value.length < length || value.slice(0, length).toLowerCase() !== scheme) return ABSENT;
  if (value.length === length) return { kind: 'found', value: '' };
  let at = length;
  if (value.charCodeAt(at) !== SP) return TCHAR.test(value[at]!) ? ABSENT : MALFORMED;
  while (value.charCodeAt(at) === SP) at++;
  return { kind: 'found', value: value.slice(at) };
}

/** Reads a header whose value starts with a literal prefix that is not a scheme (`sk-`, `Key=`). */
function literalCredential(value: string, prefix: string): CredentialReading {
  if (value.length >= prefix.length && value.slice(0, prefix.length).toLowerCase() === prefix) {
    return { kind: 'found', value: value.slice(prefix.length) };
  }
  return value.toLowerCase() === prefix.trimEnd() ? { kind: 'found', value: '' } : ABSENT;
}

/**
 * The names of the headers sent as another spelling of `key`, one an upstream folds into it
 * (`X_Api_Key`, `x.api.key` for `x-api-key`: see headerSpellingKey, the rule deleteHeader
 * strips by): CGI-style upstreams (`HTTP_X_API_KEY`) read them as one header. Empty in the
 * usual case, without allocating.
 */
function otherSpellings(message: MessageHead, key: string, spelling: string): string[] {
  let found: string[] | undefined;
  const raw = message.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const sent = raw[i]!;
    // Allocation-free tests first: this runs for every raw header of every request.
    if (!sameSpelling(sent, spelling)) continue;
    const lower = sent.toLowerCase();
    if (lower === key) continue;
    found ??= [];
    found.push(lower);
  }
  return found ?? NONE;
}
const NONE: string[] = [];

function headerLocator(name: string, prefix: string | undefined): Locator {
  const key = name.toLowerCase();
  // Only a name with a symbol in it has spellings other than its case.
  const folded = /[^a-z0-9]/.test(key) ? headerSpellingKey(key) : undefined;
  const lowerPrefix = prefix?.toLowerCase();
  // Decided once: `Bearer ` is an auth scheme (any run of spaces may follow it, any other
  // separator is malformed); `sk-` is a literal that the credential follows directly.
  const scheme =
    lowerPrefix !== undefined && SCHEME_PREFIX.test(lowerPrefix) ? lowerPrefix.trimEnd() : undefined;
  return {
    location: { header: prefix === undefined ? { name } : { name, prefix } },
    description: prefix === undefined ? `header "${key}"` : `header "${key}" (${prefix.trim()})`,
    read(host) {
      const values = headerOccurrences(host.message, key);
      if (folded !== undefined) {
        const variants = otherSpellings(host.message, key, folded).length;
        if (variants > 0) return values.length + variants > 1 ? REPEATED : MALFORMED;
      }
      if (values.length !== 1 || lowerPrefix === undefined) return single(values);
      const value = values[0]!;
      return scheme !== undefined ? schemeCredential(value, scheme) : literalCredential(value, lowerPrefix);
    },
    // deleteHeader and setHeader remove every spelling an upstream folds into `key` themselves.
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
      return single(queryOccurrences(host.message.url ?? '', name));
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
      return single(cookieOccurrences(header, name));
    },
    strip(host) {
      const header = host.message.headers.cookie;
      if (header === undefined) return;
      const rest = withoutCookie(header, name);
      if (rest === undefined) deleteHeader(host.message, 'cookie');
      else setHeader(host.message, 'cookie', rest);
      host.forgetCookies?.((sent) => isCookieSpelling(sent, name));
    },
    write(host, value) {
      setHeader(host.message, 'cookie', withCookie(host.message.headers.cookie, name, value));
    },
  };
}

/**
 * `Authorization` read with any of several auth-schemes (`Bearer`, `DPoP`): the reading names
 * the scheme the client used, in lower case. One header only, exactly as with one scheme: sent
 * twice (in any schemes) is `repeated`; a scheme of ours with a wrong separator is `malformed`.
 * Its location stays `Authorization: <first scheme>`, which is how challenges and backendAuth
 * see it; strip() removes the header whatever the scheme, and the companion headers.
 */
export function authorizationSchemes(
  schemes: readonly [string, ...string[]],
  /** Headers that travel with the credential and go with it when it is stripped (`DPoP`). */
  companions: readonly string[] = [],
): Locator {
  const base = headerLocator('authorization', `${schemes[0]} `);
  const lower = schemes.map((scheme) => scheme.toLowerCase());
  return {
    ...base,
    strip(host) {
      base.strip(host);
      for (const name of companions) deleteHeader(host.message, name);
    },
    description: `header "authorization" (${schemes.join(' or ')})`,
    read(host) {
      const values = headerOccurrences(host.message, 'authorization');
      if (values.length !== 1) return single(values);
      let malformed = false;
      for (const scheme of lower) {
        const reading = schemeCredential(values[0]!, scheme);
        if (reading.kind === 'found') return { kind: 'found', value: reading.value, scheme };
        if (reading.kind === 'malformed') malformed = true;
      }
      return malformed ? MALFORMED : ABSENT;
    },
  };
}

/** The default for bearer credentials: `Authorization: Bearer <token>`. */
export const BEARER_LOCATION: CredentialLocation = { header: { name: 'authorization', prefix: 'Bearer ' } };

const NAME_PROBLEM = 'must be a non-empty name made of token characters';
const tokenName = () => z.string({ error: NAME_PROBLEM }).regex(TOKEN_NAME);

const PREFIX_PROBLEM = 'must be a scheme or literal such as "Bearer " (or "" for none), not only spaces';

const HEADER_LOCATION = refined(
  optionsObject(
    'a header location',
    {
      name: tokenName(),
      prefix: z.string({ error: PREFIX_PROBLEM }).optional(),
    },
    { scheme: 'prefix' },
    // `{ header: 'x-api-key' }` is a common shorthand mistake: the message shows the right form.
    'must be an object: { header: { name, prefix? } }',
  ),
  (header, ctx) => {
    // A credential read, stripped or written there would frame or route the request (`strip`
    // of `content-length` unframes a piped body; a key written as `connection` or `host` is a
    // hop-by-hop list or a target): the same names forwardIdentity refuses.
    if (FORWARDER_HEADERS.has(headerSpellingKey(header.name)))
      refuse(ctx, 'is a hop-by-hop or framing header, never a credential location', 'name');
    // `prefix: ''` is "no prefix" (as agentgateway writes it); only spaces is a mistake.
    if (header.prefix !== undefined && header.prefix !== '' && header.prefix.trim() === '')
      refuse(ctx, PREFIX_PROBLEM, 'prefix');
    else if (header.prefix !== undefined && !isHeaderSafe(header.prefix)) {
      refuse(
        ctx,
        'contains a control character (CR, LF, NUL, TAB, DEL, C1) or a character outside printable ASCII',
        'prefix',
      );
    }
  },
);

const namedLocation = (kind: 'queryParameter' | 'cookie', owner: string) =>
  optionsObject(owner, { name: tokenName() }, {}, `must be an object: { ${kind}: { name } }`);

const LOCATION_FORMS = ['header', 'queryParameter', 'cookie'] as const;

/**
 * The schema of a {@link CredentialLocation}: exactly one of its forms, each with the keys of
 * that form only.
 */
export const CREDENTIAL_LOCATION = narrowed<CredentialLocation>()(
  refined(
    optionsObject(
      'a credential location',
      {
        header: HEADER_LOCATION.optional(),
        queryParameter: namedLocation('queryParameter', 'a query parameter location').optional(),
        cookie: namedLocation('cookie', 'a cookie location').optional(),
      },
      {
        headers: 'header',
        query: 'queryParameter',
        queryParam: 'queryParameter',
        param: 'queryParameter',
        cookies: 'cookie',
      },
      'must be { header: { name, prefix } }, { queryParameter: { name } } or { cookie: { name } }',
    ),
    (location, ctx) => {
      const given = LOCATION_FORMS.filter((form) => location[form] !== undefined);
      if (given.length > 1) {
        const both = given.map((form) => `\`${form}\``).join(' and ');
        refuse(ctx, `gives both ${both}: a credential has one location`);
      } else if (given.length === 0) refuse(ctx, 'must name exactly one of header, queryParameter or cookie');
    },
  ),
);

/** Validates a location at start-up; `field` names the option in error messages. */
export function locator(
  location: CredentialLocation | undefined,
  field: string,
  fallback = BEARER_LOCATION,
): Locator {
  // Read as every form's keys at once: a form left `undefined` beside the one given is absent.
  const chosen: { header?: { name: string; prefix?: string }; queryParameter?: { name: string } } & Partial<
    Extract<CredentialLocation, { cookie: unknown }>
  > = parseOptions(CREDENTIAL_LOCATION, location ?? fallback, field);
  // `prefix: ''` is "no prefix" (as agentgateway writes it): read and written as a bare value.
  if (chosen.header !== undefined)
    return headerLocator(chosen.header.name, chosen.header.prefix === '' ? undefined : chosen.header.prefix);
  if (chosen.queryParameter !== undefined) return queryLocator(chosen.queryParameter.name);
  return cookieLocator(chosen.cookie!.name);
}
