import { bounded, flag, optionsObject, refined, refuse, text, whole, z } from '../../config/schema.js';
import { SECRET_SOURCE, type SecretSource } from '../../config/secret.js';
import { type UrlOptionRules, urlOptionProblem } from '../../config/url-option.js';
import type { ReplayCache } from '../../store/replay-cache.js';
import { isAsymmetric } from '../algorithms.js';

/** Proof algorithms accepted when `dpop.algorithms` is not given (RFC 9449: asymmetric only). */
export const DEFAULT_DPOP_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
] as const;

/** RS-issued nonces (RFC 9449 section 9): stateless, an HMAC of a time step. */
export interface DpopNonceOptions {
  /**
   * The HMAC key: replicas sharing it accept each other's nonces. A `$ENV` reference,
   * `{ env }` or `{ file }` like other secrets; at least 32 characters. Default: a random key
   * of this middleware's own (one replica only).
   */
  secret?: SecretSource;
  /** How long a nonce is accepted. Default 300; a fresh one is offered after half of it. */
  lifetimeSeconds?: number;
}

/** `dpop` of jwtAuth: DPoP-bound tokens (RFC 9449). */
export interface DpopOptions {
  /**
   * `allowed`: `Authorization: Bearer` (tokens without `cnf`) and `Authorization: DPoP` (bound
   * tokens with a proof) are both accepted. `required`: only DPoP.
   */
  mode: 'allowed' | 'required';
  /** Proof signature algorithms, asymmetric only. Default ES*, PS*, RS*, EdDSA. */
  algorithms?: readonly string[];
  /** A proof's `iat` must be within this many seconds of now; its `jti` is kept twice as long plus 60 s (replica clocks). Default 300. */
  iatWindowSeconds?: number;
  /** Ask clients for server-issued nonces (`use_dpop_nonce`). Default false. */
  nonce?: boolean | DpopNonceOptions;
  /**
   * The public origin (and optional base path) clients call, e.g. `https://api.example.com`:
   * the proof's `htu` must be this plus the request path. Never taken from the Host header.
   * Required.
   */
  publicUrl: string;
  /** Where proof `jti`s are kept: `replayCache({ store: redisStore(...) })` across replicas. Default: in memory. */
  replayCache?: ReplayCache;
}

const ALGS = 'must be a non-empty array of asymmetric algorithm names (HS* and none are refused)';

const REPLAY_CACHE = z.custom<ReplayCache>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<ReplayCache>).claim === 'function' &&
    typeof (value as Partial<ReplayCache>).close === 'function',
  { error: 'must be a replay cache made by replayCache()' },
);

const NONCE = z.union(
  [
    flag(),
    optionsObject('dpop.nonce', {
      secret: SECRET_SOURCE.optional(),
      lifetimeSeconds: bounded(10, 86_400, 'must be a number of seconds between 10 and 86400', {
        integer: true,
      }).optional(),
    }),
  ],
  { error: 'must be true, false or { secret?, lifetimeSeconds? }' },
);

const NO_QUERY = 'must not have a query or a fragment: htu is compared without them';

/** `publicUrl`: http or https (TLS may end at a proxy in front), nothing htu is compared without. */
const PUBLIC_URL: UrlOptionRules = {
  notAbsolute: 'must be an absolute URL such as "https://api.example.com"',
  plainHttp: 'any',
  badScheme: 'must be an http or https URL',
  credentials: 'must not contain credentials',
  fragment: NO_QUERY,
  query: NO_QUERY,
};

export const DPOP_OPTIONS = refined(
  optionsObject(
    'dpop',
    {
      mode: z.enum(['allowed', 'required'], { error: 'must be "allowed" or "required"' }),
      algorithms: whole(
        z
          .array(
            z.string({ error: ALGS }).refine((alg) => isAsymmetric(alg), {
              error: (issue) =>
                `"${String(issue.input)}" is not an asymmetric signature algorithm (DPoP proofs are signed with a private key)`,
            }),
            { error: ALGS },
          )
          .min(1, { error: ALGS }),
      )
        .readonly()
        .optional(),
      iatWindowSeconds: bounded(1, 3600, 'must be a number of seconds between 1 and 3600', {
        integer: true,
      }).optional(),
      nonce: NONCE.optional(),
      publicUrl: text('is required: the public origin clients call (htu is built from it, never from Host)'),
      replayCache: REPLAY_CACHE.optional(),
    },
    { algs: 'algorithms', url: 'publicUrl', origin: 'publicUrl', required: 'mode' },
  ),
  (dpop, ctx) => {
    const problem = urlOptionProblem(dpop.publicUrl, PUBLIC_URL);
    if (problem !== undefined) refuse(ctx, problem, 'publicUrl');
  },
);
