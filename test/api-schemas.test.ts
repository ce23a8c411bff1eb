import { describe, expect, it } from 'vitest';
import { CACHE_OPTIONS } from '../src/cache/bounded-cache.js';
import {
  atMostOneOf,
  bounded,
  flag,
  knownKeysOf,
  type Locked,
  optionsObject,
  parseOptions,
  refined,
  refuse,
  text,
  whole,
  z,
} from '../src/config/schema.js';
import { CREDENTIAL_LOCATION, locator } from '../src/credentials/location.js';
import { ConfigError } from '../src/errors.js';
import type { JwtAuthOptions, JwtProviderOptions } from '../src/index.js';
import { JWT_AUTH_KEYS, JWT_AUTH_OPTIONS } from '../src/jwt/options.js';
import { LOGGER } from '../src/logger.js';
import { frameworks } from './support/frameworks.js';
import { ISSUER, jwks, makeKey } from './support/keys.js';

const all = await frameworks();

// Issue 12, "Option schemas, not 103 hand-written checks": one zod definition per options object
// gives its type, its run-time check and the field path of each mistake, through the hint
// machinery of known-keys for unknown keys.

const JWKS = refined(
  optionsObject(
    'jwks',
    {
      url: text('is not a URL').optional(),
      file: text('must be a path').optional(),
    },
    { uri: 'url', keys: { say: 'write the JWKS object as `jwks: { inline: { keys: [...] } }`' } },
  ),
  atMostOneOf(['url', 'file'], 'one provider has one key source'),
);

const PROVIDER = optionsObject('a provider', { issuer: text('is required: name the issuer') });

const OPTIONS = refined(
  optionsObject(
    'exampleAuth',
    {
      issuer: text('is required: name the issuer'),
      audiences: z.array(text('must be a non-empty string')).optional(),
      clockSkewSeconds: bounded(0, 600, 'must be a number of seconds between 0 and 600').optional(),
      allowRedirects: flag().optional(),
      jwks: JWKS.optional(),
      providers: z.array(PROVIDER).optional(),
    },
    { audience: 'audiences', leeway: 'clockSkewSeconds' },
  ),
  (options, ctx) => {
    if (options.issuer.startsWith('http://'))
      refuse(ctx, 'must be https: a plain-text issuer is not trusted', 'issuer');
  },
);

/** The ConfigError `parseOptions` throws for `value`. */
function refusal(value: unknown, field = ''): ConfigError {
  try {
    parseOptions(OPTIONS, value, field);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  expect.fail('expected a ConfigError');
}

describe('parseOptions', () => {
  it('returns a plain copy holding the known keys only', () => {
    const parsed = parseOptions(OPTIONS, { issuer: 'https://a.example', clockSkewSeconds: 5 });
    expect(parsed).toEqual({ issuer: 'https://a.example', clockSkewSeconds: 5 });
  });

  it('names an unknown key with the hint for the option meant', () => {
    const error = refusal({ issuer: 'https://a.example', audience: 'api' });
    expect(error.field).toBe('audience');
    expect(error.problem).toBe('is not an option of exampleAuth; did you mean `audiences`?');
  });

  it('refuses an unknown key before reading any field, and even when it is undefined', () => {
    const error = refusal({ issuer: 42, leeway: undefined });
    expect(error.field).toBe('leeway');
    expect(error.problem).toContain('did you mean `clockSkewSeconds`?');
  });

  it('finds an unknown key in a getter on a prototype (a class instance)', () => {
    class Options {
      issuer = 'https://a.example';
      get audience() {
        return 'api';
      }
    }
    expect(refusal(new Options()).field).toBe('audience');
  });

  it('names nested paths through objects and arrays under the given field', () => {
    expect(refusal({ issuer: 'https://a', jwks: { uri: 'https://k' } }).field).toBe('jwks.uri');
    const nested = refusal({ issuer: 'https://a', providers: [{ issuer: 'x' }, { issur: 'y' }] });
    expect(nested.field).toBe('providers[1].issur');
    expect(nested.problem).toContain('is not an option of a provider; did you mean `issuer`?');
    expect(refusal({ issuer: 'https://a', providers: [{ issuer: '' }] }, 'outer').field).toBe(
      'outer.providers[0].issuer',
    );
    expect(refusal({ issuer: 'https://a', 'odd key': 1 }).field).toBe('["odd key"]');
  });

  it("uses the schema's own problem text for the type and for each check", () => {
    for (const clockSkewSeconds of ['5', 700, -1, Number.POSITIVE_INFINITY, Number.NaN]) {
      const error = refusal({ issuer: 'https://a', clockSkewSeconds });
      expect(error.field).toBe('clockSkewSeconds');
      expect(error.problem).toBe('must be a number of seconds between 0 and 600');
    }
    expect(refusal({ issuer: 'https://a', audiences: ['api', ''] }).field).toBe('audiences[1]');
    expect(refusal({}).problem).toBe('is required: name the issuer');
    expect(refusal({ issuer: 'https://a', allowRedirects: 'true' }).problem).toBe('must be true or false');
  });

  it('names the owner when the whole value is not an object', () => {
    for (const value of [null, 'options', [], 5]) {
      const error = refusal(value);
      expect(error.field).toBe('exampleAuth');
    }
    expect(refusal(null).problem).toBe('must be an object: the options of exampleAuth');
    expect(refusal(undefined).field).toBe('exampleAuth');
    expect(refusal(undefined).problem).toBe('must be an object: the options of exampleAuth');
    expect(refusal(null, 'providers[0]').field).toBe('providers[0]');
  });

  it('runs refinements only on values that parsed cleanly, at the path they name', () => {
    const error = refusal({ issuer: 'http://a' });
    expect(error.field).toBe('issuer');
    expect(error.problem).toBe('must be https: a plain-text issuer is not trusted');
    // The refinement is never handed a half-checked value (an issuer that is not a string).
    expect(refusal({ issuer: 7 }).problem).toBe('is required: name the issuer');
  });

  it('refuses two forms of one thing given together, ignoring undefined ones', () => {
    const error = refusal({ issuer: 'https://a', jwks: { url: 'https://k', file: '/k' } });
    expect(error.field).toBe('jwks');
    expect(error.problem).toBe('gives both `url` and `file`: one provider has one key source');
    expect(() =>
      parseOptions(OPTIONS, { issuer: 'https://a', jwks: { url: 'https://k', file: undefined } }),
    ).not.toThrow();
  });

  it('never shows a value in a message', () => {
    const secret = 'sk-not-to-be-shown-7f3a9c2e';
    for (const value of [
      { issuer: secret, [secret]: 1 },
      { issuer: 'https://a', clockSkewSeconds: secret },
    ]) {
      const error = refusal(value);
      expect(error.problem).not.toContain(secret);
    }
  });

  it('derives the known-key list from the shape', () => {
    expect(knownKeysOf(PROVIDER).names).toEqual(['issuer']);
    expect(knownKeysOf(JWKS).names).toEqual(['url', 'file']);
    expect(knownKeysOf(JWKS.optional()).owner).toBe('jwks');
  });

  it('infers the options type from the schema', () => {
    type Parsed = z.output<typeof PROVIDER>;
    const locked: Locked<Parsed, { issuer: string }> = true;
    expect(locked).toBe(true);
  });
});

/** The ConfigError `parseOptions(schema, value)` throws. */
function refusalOf(schema: z.ZodType, value: unknown, field = ''): ConfigError {
  try {
    parseOptions(schema, value, field);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  expect.fail('expected a ConfigError');
}

describe('field paths through lists, maps and forms', () => {
  const LISTS = optionsObject('lists', {
    names: whole(z.array(text('must be an array of non-empty strings')).min(1))
      .readonly()
      .optional(),
    ports: z.array(z.int({ error: 'must be a port' })).optional(),
    headers: z.record(z.string(), z.string({ error: 'must be a CEL expression' })).optional(),
  });

  it('reports a whole list at its own path, other lists at the item', () => {
    expect(refusalOf(LISTS, { names: ['a', ''] }).field).toBe('names');
    expect(refusalOf(LISTS, { names: ['a', ''] }).problem).toBe('must be an array of non-empty strings');
    expect(refusalOf(LISTS, { ports: [80, 'x'] }, 'upstream').field).toBe('upstream.ports[1]');
  });

  it('brackets the keys of a map, which the user named', () => {
    expect(refusalOf(LISTS, { headers: { X_User: 5 } }).field).toBe('headers["X_User"]');
  });

  it('follows the form of a union the value meant (false or a cache object)', () => {
    expect(refusalOf(CACHE_OPTIONS, { maxEntries: 0 }, 'cache').field).toBe('cache.maxEntries');
    expect(refusalOf(CACHE_OPTIONS, { max: 5 }, 'cache').problem).toContain('did you mean `maxEntries`?');
    const neither = refusalOf(CACHE_OPTIONS, true, 'cache');
    expect(neither.field).toBe('cache');
    expect(neither.problem).toBe('must be { maxEntries?, ttlSeconds? } or false');
  });
});

describe('jwtAuth options from one schema', () => {
  it('derives the known keys from the schema shape', () => {
    expect([...JWT_AUTH_KEYS.names].sort()).toEqual(
      [
        'issuer',
        'audiences',
        'jwks',
        'allowSameOriginRedirects',
        'secret',
        'algorithms',
        'clockSkewSeconds',
        'requiredClaims',
        'scopeClaim',
        'providers',
        'location',
        'realm',
        'maxTokenLength',
        'revocations',
        'mtls',
        'dpop',
        'logger',
        'cache',
        'mode',
        'publicPaths',
        'delegateErrors',
      ].sort(),
    );
  });

  it('types the options from the schema', () => {
    const audiences: Locked<JwtProviderOptions['audiences'], readonly string[] | undefined> = true;
    const secret: Locked<JwtAuthOptions['secret'], string | Uint8Array | undefined> = true;
    const cache: Locked<
      JwtAuthOptions['cache'],
      false | { maxEntries?: number | undefined; ttlSeconds?: number | undefined } | undefined
    > = true;
    expect([audiences, secret, cache]).toEqual([true, true, true]);
  });

  it('emits a JSON Schema for a configuration file', () => {
    const schema = z.toJSONSchema(JWT_AUTH_OPTIONS, {
      // Loggers and the inbound options checked by the pipeline have no JSON form: any value.
      unrepresentable: 'any',
      // `readonly` lists are a TypeScript matter; JSON Schema's readOnly means something else.
      override: (context) => {
        delete (context.jsonSchema as { readOnly?: boolean }).readOnly;
      },
    }) as {
      type: string;
      additionalProperties: boolean;
      properties: Record<string, Record<string, unknown>>;
    };
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.clockSkewSeconds).toEqual({ type: 'number', minimum: 0, maximum: 600 });
    expect(schema.properties.audiences).toMatchObject({ type: 'array', minItems: 1 });
    expect(schema.properties.jwks).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { timeoutMs: { type: 'number', exclusiveMinimum: 0, maximum: 60_000 } },
    });
    expect(schema.properties.providers).toMatchObject({
      type: 'array',
      items: { type: 'object', required: ['issuer'], additionalProperties: false },
    });
    expect(JSON.stringify(schema)).not.toContain('readOnly');
  });
});

const KEY_RECORD = { name: 'alice', key: 'k'.repeat(32) };

describe('the shared scheme options', () => {
  it('reads an empty header prefix as none, and refuses one of only spaces', () => {
    const bare = parseOptions(CREDENTIAL_LOCATION, { header: { name: 'x-api-key', prefix: '' } }, 'location');
    expect(bare).toEqual({ header: { name: 'x-api-key', prefix: '' } });
    expect(locator(bare, 'location').location).toEqual({ header: { name: 'x-api-key' } });
    expect(() =>
      parseOptions(CREDENTIAL_LOCATION, { header: { name: 'x-api-key', prefix: ' ' } }, 'location'),
    ).toThrow(/location\.header\.prefix/);
  });

  it("checks a logger's optional methods, debug included", () => {
    const logger = { warn() {}, debug() {} };
    expect(parseOptions(LOGGER, logger, 'logger')).toBe(logger);
    expect(() => parseOptions(LOGGER, { warn() {}, debug: true }, 'logger')).toThrow(/logger\.debug/);
  });
});

describe.each(all)('option schemas through the factories on $name', ({ lib }) => {
  const loose = <T>(value: unknown): T => value as T;

  it('refuses a mistake with the adapter ConfigError and the full path', async () => {
    const key = await makeKey('RS256');
    const attempts: [() => unknown, string, RegExp][] = [
      [
        () => lib.jwtAuth(loose({ issuer: ISSUER, jwks: { inline: jwks(key) }, audiences: ['api', 7] })),
        'audiences',
        /must be an array of non-empty strings/,
      ],
      [
        () =>
          lib.jwtAuth(
            loose({
              providers: [
                { issuer: ISSUER, jwks: { inline: jwks(key) } },
                { issuer: 'https://other.test', jwks: { url: 'https://other.test/k', timeoutMs: 0 } },
              ],
            }),
          ),
        'providers[1].jwks.timeoutMs',
        /greater than 0/,
      ],
      [
        () =>
          lib.jwtAuth(
            loose({
              providers: [{ issuer: ISSUER, secret: 'x'.repeat(32) }],
              algorithms: ['HS256'],
              cache: { ttl: 5 },
            }),
          ),
        'cache.ttl',
        /did you mean `ttlSeconds`\?/,
      ],
      [
        () =>
          lib.apiKeyAuth(
            loose({ keys: [{ name: 'a', key: 'k'.repeat(16), scopes: ['read', 'has space'] }] }),
          ),
        'keys[0].scopes',
        /must be an array of scopes/,
      ],
      [() => lib.forwardIdentity(loose({ headers: { Host: 'jwt.sub' } })), 'headers["Host"]', /hop-by-hop/],
      [
        () => lib.forwardIdentity(loose({ headers: { 'x-user': 'jwt.sub' }, delegateError: true })),
        'delegateError',
        /did you mean `delegateErrors`\?/,
      ],
      [
        () =>
          lib.apiKeyAuth(
            loose({ keys: [KEY_RECORD], location: { header: { name: 'x-api-key', prefix: '   ' } } }),
          ),
        'location.header.prefix',
        /\(or "" for none\), not only spaces/,
      ],
      [
        () => lib.apiKeyAuth(loose({ keys: [KEY_RECORD], logger: { warn() {}, debug: 'yes' } })),
        'logger.debug',
        /must be a method, or left out/,
      ],
    ];
    for (const [make, field, problem] of attempts) {
      let error: unknown;
      try {
        const made = make() as { close?: () => unknown };
        void made.close?.();
      } catch (thrown) {
        error = thrown;
      }
      expect(error, field).toBeInstanceOf(lib.ConfigError);
      expect((error as ConfigError).field).toBe(field);
      expect((error as ConfigError).problem).toMatch(problem);
    }
  });
});
