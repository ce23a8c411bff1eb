import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CEL_LIMITS } from '../src/authz/cel-limits.js';
import type { Rule } from '../src/index.js';
import type { Framework, TestServer } from './support/frameworks.js';
import { frameworks } from './support/frameworks.js';
import { AUDIENCE, ISSUER, jwks, makeKey, sign, type TestKey } from './support/keys.js';
import { resourcesOf } from './support/resources.js';

// Issue 11, "What authorization sees": CEL type confusion and the cost of one rule, on both
// adapters. Claims are the issuer's JSON: a rule written for a list must not change meaning
// when the claim arrives as a string, a number, null, a bool or a map; and no request or token
// may make one rule cost more than the limits the README states (cel-limits.ts).

const all = await frameworks();

let key: TestKey;
beforeAll(async () => {
  key = await makeKey('ES256');
});

const token = (claims: Record<string, unknown>) => sign(key, claims);

/** A GET of `path` on `server` with a token that carries `claims`, and any other `headers`. */
const get = async (
  server: TestServer,
  claims: Record<string, unknown>,
  headers: Record<string, string> = {},
  path = '/',
) =>
  request(server.url)
    .get(path)
    .set({ ...headers, Authorization: `Bearer ${await token(claims)}` });

/** A server running jwtAuth then authorize({ rules }); one afterAll closes them all. */
function resources(framework: Framework) {
  const opened = resourcesOf(framework);
  return {
    closeAll: opened.closeAll,
    serve(rules: Rule[]): Promise<TestServer> {
      // Tokens up to 64 KB (an app may raise the 16 KB default): the rule limits must hold on
      // their own, whatever the token cap.
      const jwt = opened.track(
        framework.lib.jwtAuth({
          issuer: ISSUER,
          audiences: [AUDIENCE],
          jwks: { inline: jwks(key) },
          maxTokenLength: 64 * 1024,
        }),
      );
      return opened.serve([jwt, framework.lib.authorize({ rules })]);
    },
  };
}

function expectDenied(res: request.Response, context: string): void {
  expect(res.status, context).toBe(403);
  expect(res.body, context).toEqual({ error: 'access_denied', error_description: expect.any(String) });
}

// --- Type confusion ------------------------------------------------------------------------------

/** Every JSON type a claim can arrive as, and the shapes that fooled CEL before. */
const LIST_EXPECTED_WRONG: [string, unknown][] = [
  ['a string containing the member', 'sysadmins-readonly'],
  ['a string equal to the member', 'admins'],
  ['a number', 1],
  ['null', null],
  ['a bool', true],
  ['a map with the member as a key, false', { admins: false }],
  ['a map with the member as a key, true', { admins: true }],
  ['a list holding the member in a list', [['admins']]],
  ['a list of the member spelled otherwise', ['admins-readonly', 'Admins']],
];

interface TypeCase {
  name: string;
  rule: Rule;
  claim: string;
  /** Claim values the rule was written for: 200. */
  right: unknown[];
  /** Values of another type (or a value of the right type that does not qualify): 403. */
  wrong: [string, unknown][];
  headers?: Record<string, string>;
}

/** A rule written for "admins" as a member of the list jwt.groups: `member` passes, no other type does. */
const membership = (name: string, rule: Rule, member: string[]): TypeCase => ({
  name,
  rule,
  claim: 'groups',
  right: [member],
  wrong: LIST_EXPECTED_WRONG,
});

const TYPE_CASES: TypeCase[] = [
  {
    name: 'allow membership with in (the form the README teaches)',
    rule: { allow: '"admins" in jwt.groups' },
    claim: 'groups',
    right: [['staff', 'admins']],
    wrong: [...LIST_EXPECTED_WRONG, ['a list with an element of another type first', [1, 'admins']]],
  },
  membership('a string rule (allow) with in', '"admins" in jwt.groups', ['admins']),
  membership('require membership with in', { require: '"admins" in jwt.groups' }, ['admins']),
  membership(
    'allow membership with .contains (agentgateway form: list membership only)',
    { allow: 'jwt.groups.contains("admins")' },
    ['staff', 'admins'],
  ),
  membership('allow membership with exists()', { allow: 'jwt.groups.exists(g, g == "admins")' }, [
    'staff',
    'admins',
  ]),
  membership(
    'allow membership with filter().size()',
    { allow: 'jwt.groups.filter(g, g == "admins").size() > 0' },
    ['admins'],
  ),
  {
    name: 'allow with all(): a map or string is not iterated',
    rule: { allow: 'jwt.groups.all(g, g.startsWith("team-"))' },
    claim: 'groups',
    right: [['team-a', 'team-b']],
    wrong: [
      ['a map whose keys qualify', { 'team-a': 1 }],
      ['a string', 'team-a'],
      ['null', null],
    ],
  },
  {
    name: 'deny membership with in: a claim of another type is denied, not skipped',
    rule: { deny: '"guests" in jwt.groups' },
    claim: 'groups',
    right: [['staff'], []],
    wrong: [
      ['a string', 'staff'],
      ['a string equal to the member', 'guests'],
      ['a number', 0],
      ['null', null],
      ['a map without the member', { staff: true }],
      ['a map with the member false', { guests: false }],
      ['a list with the member', ['staff', 'guests']],
    ],
  },
  {
    name: 'deny equality: a list or null role is denied, not unequal',
    rule: { deny: 'jwt.role == "guest"' },
    claim: 'role',
    right: ['member'],
    wrong: [
      ['a list of the value', ['guest']],
      ['a list of another value', ['member']],
      ['null', null],
      ['a number', 0],
      ['a bool', false],
      ['a map', { guest: 1 }],
      ['the value', 'guest'],
    ],
  },
  {
    name: 'allow inequality: != does not turn a type mismatch into true',
    rule: { allow: 'jwt.role != "guest"' },
    claim: 'role',
    right: ['member'],
    wrong: [
      ['a list of the value', ['guest']],
      ['a list of another value', ['member']],
      ['null', null],
      ['a number', 1],
      ['a map', {}],
    ],
  },
  {
    name: 'require a string suffix (README)',
    rule: { require: 'jwt.email.endsWith("@example.com")' },
    claim: 'email',
    right: ['alice@example.com'],
    wrong: [
      ['a list of a qualifying address', ['alice@example.com']],
      ['null', null],
      ['a number', 1],
      ['a map with a qualifying key', { 'alice@example.com': true }],
      ['a string that does not qualify', 'alice@example.com.evil.test'],
    ],
  },
  {
    name: 'a claim that may be a string or a list (as aud): == or in',
    rule: { allow: 'jwt.team == "red" || "red" in jwt.team' },
    claim: 'team',
    right: ['red', ['blue', 'red']],
    wrong: [
      ['a map with the value as a key', { red: true }],
      ['a longer string', 'sysred'],
      ['a list of a longer string', ['sysred']],
      ['a nested list', [['red']]],
      ['a number', 1],
      ['null', null],
    ],
  },
  {
    name: 'a bool claim compared with true',
    rule: { allow: 'jwt.admin == true' },
    claim: 'admin',
    right: [true],
    wrong: [
      ['the string "true"', 'true'],
      ['a number', 1],
      ['a list', [true]],
      ['a map', { true: true }],
      ['null', null],
    ],
  },
  {
    name: 'a number claim compared with an int (JSON numbers are doubles)',
    rule: { allow: 'jwt.level >= 3 && jwt.level == 5' },
    claim: 'level',
    right: [5, 5.0],
    wrong: [
      ['a numeric string', '5'],
      ['a list', [5]],
      ['a map', { 5: 5 }],
      ['null', null],
      ['a bool', true],
    ],
  },
  {
    name: 'a macro over a list of objects, with a list in each',
    rule: { allow: 'jwt.orgs.exists(o, o.id == "acme" && "admin" in o.roles)' },
    claim: 'orgs',
    right: [
      [
        { id: 'other', roles: [] },
        { id: 'acme', roles: ['admin'] },
      ],
    ],
    wrong: [
      ['roles as a string', [{ id: 'acme', roles: 'admin' }]],
      ['roles as a map', [{ id: 'acme', roles: { admin: true } }]],
      ['an id as a list', [{ id: ['acme'], roles: ['admin'] }]],
      ['orgs as a map', { acme: { id: 'acme', roles: ['admin'] } }],
      ['orgs as a list of strings', ['acme']],
    ],
  },
  {
    name: 'a claim compared with a header (both untyped at start-up)',
    rule: { allow: 'jwt.team == request.headers["x-team"]' },
    claim: 'team',
    headers: { 'x-team': 'red' },
    right: ['red'],
    wrong: [
      ['a list of the value', ['red']],
      ['a map', { red: 'red' }],
      ['null', null],
      ['a number', 1],
    ],
  },
  {
    name: 'deny on a header that differs from a claim (README form)',
    rule: { deny: 'request.headers["x-team"] != jwt.team' },
    claim: 'team',
    headers: { 'x-team': '1' },
    right: ['1'],
    wrong: [
      ['a number equal to the header once printed', 1],
      ['a list of the value', ['1']],
      ['null', null],
    ],
  },
];

describe.each(all)('CEL type confusion fails closed on $name', (framework) => {
  const r = resources(framework);
  afterAll(() => r.closeAll());

  it.each(TYPE_CASES)('$name', async ({ rule, claim, right, wrong, headers }) => {
    const server = await r.serve([rule]);
    const call = (value: unknown) => get(server, { [claim]: value }, headers);
    for (const value of right) {
      const res = await call(value);
      expect(res.status, `${claim} = ${JSON.stringify(value)} (the type the rule was written for)`).toBe(200);
    }
    for (const [description, value] of wrong) {
      expectDenied(await call(value), `${claim} = ${JSON.stringify(value)} (${description})`);
    }
  });

  it('maps portcullis builds keep key membership: "x-team" in request.headers', async () => {
    const server = await r.serve([{ allow: '"x-team" in request.headers' }]);
    expect((await get(server, {}, { 'x-team': 'red' })).status).toBe(200);
    expectDenied(await get(server, {}), 'no x-team header');
  });

  it('a key test on a rule variable stays a key test: "groups" in jwt', async () => {
    const server = await r.serve([{ allow: '"groups" in jwt' }]);
    const call = (claims: Record<string, unknown>) => get(server, claims);
    expect((await call({ groups: 'any type' })).status).toBe(200);
    expectDenied(await call({ other: ['groups'] }), 'no groups claim');
  });

  it('a claim used as a key of a request map must be a string', async () => {
    const server = await r.serve([{ allow: 'jwt.header in request.headers' }]);
    const call = (value: unknown) => get(server, { header: value }, { 'x-team': 'red' });
    expect((await call('x-team')).status).toBe(200);
    for (const value of [['x-team'], { 'x-team': 1 }, null, 1]) {
      expectDenied(await call(value), `header = ${JSON.stringify(value)}`);
    }
  });

  it('a substring test on a claim is explicit: string(jwt.x).contains()', async () => {
    const server = await r.serve([{ allow: 'string(jwt.email).contains("@example.")' }]);
    const call = (value: unknown) => get(server, { email: value });
    expect((await call('alice@example.com')).status).toBe(200);
    for (const value of [['alice@example.com'], { 'alice@example.com': 1 }, null]) {
      expectDenied(await call(value), `email = ${JSON.stringify(value)}`);
    }
  });
});

// --- Cost of one rule ------------------------------------------------------------------------

const { collectionSize, dynamicPatternLength, evaluationElements } = CEL_LIMITS;
const names = (count: number, prefix = 'g') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
// Each hostile pattern below matches its text: before these limits the rule granted (or, as a
// deny, let through) after a slow compile; refused, it fails closed. So the outcome, not the
// time, tells the two apart.
/** 2 KB of a pattern RE2JS takes long to compile; it matches anything (all optional). */
const PATTERN_2K = '(?:abc|def|[a-z]+x)?'.repeat(103);
/** A pattern of exactly the dynamic limit that matches every path. */
const PATTERN_AT_LIMIT = `^/${'.?'.repeat((dynamicPatternLength - 2) / 2)}`;

interface CostCase {
  name: string;
  rules: Rule[];
  claims?: Record<string, unknown>;
  headers?: Record<string, string>;
  path?: string;
  status: 200 | 403;
}

const MATCH_HEADER = 'request.path.matches(request.headers["x-p"])';

const COST_CASES: CostCase[] = [
  {
    name: 'a 2 KB pattern from a header (allow)',
    rules: [MATCH_HEADER],
    headers: { 'x-p': PATTERN_2K },
    status: 403,
  },
  {
    name: 'a 2 KB pattern from a header (deny)',
    rules: [{ deny: `!${MATCH_HEADER}` }],
    headers: { 'x-p': PATTERN_2K },
    status: 403,
  },
  {
    name: 'a 2 KB pattern from a header (require)',
    rules: [{ require: MATCH_HEADER }],
    headers: { 'x-p': PATTERN_2K },
    status: 403,
  },
  {
    name: 'a pattern one character over the limit',
    rules: [MATCH_HEADER],
    headers: { 'x-p': `${PATTERN_AT_LIMIT}?` },
    status: 403,
  },
  {
    name: 'a pattern at the limit runs',
    rules: [MATCH_HEADER],
    headers: { 'x-p': PATTERN_AT_LIMIT },
    status: 200,
  },
  {
    name: 'a short pattern with counted repetition (a large program)',
    rules: [MATCH_HEADER],
    headers: { 'x-p': '^/[a-z]{0,1000}' },
    status: 403,
  },
  {
    name: 'counted repetition in an optional group',
    rules: [MATCH_HEADER],
    headers: { 'x-p': '^/(?:a{2,}|b{1,999})?' },
    status: 403,
  },
  {
    name: 'a 2 KB pattern from a claim',
    rules: ['jwt.name.matches(jwt.pattern)'],
    claims: { name: 'alice', pattern: PATTERN_2K },
    status: 403,
  },
  {
    name: "a rule's own large pattern over a long path: over the match budget",
    rules: ['request.path.matches("^/[a-z]{0,1000}[0-9]$")'],
    path: `/${'a'.repeat(999)}1`,
    status: 403,
  },
  {
    name: "the same rule's pattern over a short path runs",
    rules: ['request.path.matches("^/[a-z]{0,1000}[0-9]$")'],
    path: '/abc1',
    status: 200,
  },
  {
    name: 'matches() repeated by a macro over a claim list: the budget is per evaluation',
    rules: ['jwt.names.exists(n, n.matches("^[a-z]{0,100}z$"))'],
    claims: { names: [...names(300).map(() => 'abcdefghij'.repeat(6)), 'abcz'] },
    status: 403,
  },
  {
    name: 'in over a list one element over the limit (allow)',
    rules: ['"admins" in jwt.groups'],
    claims: { groups: [...names(collectionSize), 'admins'] },
    status: 403,
  },
  {
    name: 'in over a list at the limit runs',
    rules: ['"admins" in jwt.groups'],
    claims: { groups: [...names(collectionSize - 1), 'admins'] },
    status: 200,
  },
  {
    name: 'in over a list over the limit (deny)',
    rules: [{ deny: '"guests" in jwt.groups' }],
    claims: { groups: names(collectionSize + 1) },
    status: 403,
  },
  {
    name: 'exists() over a list over the limit',
    rules: ['jwt.groups.exists(g, g == "admins")'],
    claims: { groups: ['admins', ...names(collectionSize)] },
    status: 403,
  },
  {
    name: 'exists() over a map over the limit',
    rules: ['jwt.groups.exists(g, g == "admins")'],
    claims: { groups: Object.fromEntries(names(collectionSize + 1).map((name) => [name, true])) },
    status: 403,
  },
  {
    name: 'concatenated lists over the limit',
    rules: ['(jwt.a + jwt.b).exists(g, g == "admins")'],
    claims: { a: ['admins', ...names(600)], b: names(600) },
    status: 403,
  },
  {
    name: 'split() of a claim into a list over the limit',
    rules: ['string(jwt.csv).split(",").exists(g, g == "admins")'],
    claims: { csv: ['admins', ...names(collectionSize)].join(',') },
    status: 403,
  },
  {
    name: 'equality of lists over the limit',
    rules: ['jwt.a == jwt.b'],
    claims: { a: names(collectionSize + 1), b: names(collectionSize + 1) },
    status: 403,
  },
  {
    name: 'equality of nested lists over the element budget of one evaluation',
    rules: ['jwt.a == jwt.a'],
    claims: { a: names(110).map(() => Array.from({ length: 110 }, () => 0)) },
    status: 403,
  },
  {
    name: 'a macro over the parts of its elements: over the element budget of one evaluation',
    rules: ['jwt.orgs.exists(o, "admin" in o.roles)'],
    claims: {
      orgs: [
        ...Array.from({ length: evaluationElements / collectionSize }, () => ({
          roles: Array.from({ length: collectionSize }, () => ''),
        })),
        { roles: ['admin'] },
      ],
    },
    status: 403,
  },
];

describe.each(all)('the cost of one rule is bounded on $name', (framework) => {
  const r = resources(framework);
  afterAll(() => r.closeAll());

  it.each(COST_CASES)('$name -> $status', async ({ rules, claims, headers, path, status }) => {
    const server = await r.serve(rules);
    const res = await get(server, claims ?? {}, headers, path);
    if (status === 403) expectDenied(res, JSON.stringify(rules));
    else expect(res.status).toBe(200);
  });
});

// --- Limits refused at start-up --------------------------------------------------------------

const STARTUP_REFUSALS: { name: string; rule: string; message: RegExp }[] = [
  {
    name: 'a macro over a claim inside a macro over another claim',
    rule: 'jwt.a.all(x, jwt.b.exists(y, x == y))',
    message: /may cost/,
  },
  {
    name: 'in over a claim inside a macro over a claim',
    rule: 'jwt.a.exists(x, x in jwt.b)',
    message: /may cost/,
  },
  {
    name: '.contains over a claim inside a macro over a claim',
    rule: 'jwt.a.exists(x, jwt.b.contains(x))',
    message: /may cost/,
  },
  {
    name: 'list equality inside a macro over a claim',
    rule: 'jwt.a.exists(x, jwt.b == jwt.c)',
    message: /may cost/,
  },
  {
    name: 'a macro over a macro result over a claim',
    rule: 'jwt.a.map(x, jwt.b.filter(y, y == x)).size() > 0',
    message: /may cost/,
  },
  {
    name: 'a source over the length limit',
    rule: `request.method == "GET"${' || request.method == "GET"'.repeat(160)}`,
    message: /longer than 4096 characters/,
  },
  {
    name: 'an AST over the node limit',
    rule: `true${'||true'.repeat(600)}`,
    message: /more than 1000 nodes/,
  },
];

describe.each(all)('rules over the limits are refused at start-up on $name', (framework) => {
  it.each(STARTUP_REFUSALS)('$name', ({ rule, message }) => {
    for (const rules of [[rule], [{ deny: rule }], [{ require: rule }]] as Rule[][]) {
      expect(() => framework.lib.authorize({ rules })).toThrow(message);
    }
    expect(() => framework.lib.authorize({ rules: [rule] })).toThrow(/rules\[0\]/);
  });

  it('forwardIdentity header expressions are held to the same limits', () => {
    expect(() =>
      framework.lib.forwardIdentity({ headers: { 'x-groups': 'jwt.a.exists(x, x in jwt.b) ? "y" : "n"' } }),
    ).toThrow(/may cost/);
  });

  it('a macro over a claim with a literal list inside stays allowed', () => {
    expect(() =>
      framework.lib.authorize({ rules: ['jwt.groups.exists(g, g in ["admins", "ops"])'] }),
    ).not.toThrow();
  });
});
