import type { Problem } from '../../authenticator.js';
import { optionalSecret, type Secret } from '../../config/secret.js';
import { ConfigError } from '../../errors.js';
import { headerOccurrences } from '../../http/headers.js';
import type { Logger } from '../../logger.js';
import { type ReplayCache, replayCache } from '../../store/replay-cache.js';
import type { Confirmation, ConfirmationCheck, Presentation } from '../sender-constraint.js';
import { publicBase } from './htu.js';
import { DpopNonces } from './nonce.js';
import { DEFAULT_DPOP_ALGORITHMS, type DpopOptions } from './options.js';
import { checkProof, type ProofPolicy } from './proof.js';

/** A DPoP header longer than this is refused unread (an RSA-4096 proof is about 1.7 KB). */
export const MAX_PROOF_LENGTH = 8192;

/** How long the store is given before a claim counts as failed: the request fails closed. */
const REPLAY_RETRY_AFTER_SECONDS = 5;

/**
 * How much longer than 2x iatWindowSeconds a proof's jti is kept. `iat` is checked on each
 * replica's own clock while the shared replay cache expires the jti on the store's: a replica
 * running δ seconds slow still accepts a proof δ seconds after the jti would have expired, so
 * the proof could be replayed there. Keeping jtis this much longer covers clocks up to a minute
 * apart (NTP keeps them within milliseconds; a clock further off is an outage of its own).
 */
export const JTI_CLOCK_MARGIN_SECONDS = 60;

const proofProblem = (reason: string, description: string): Problem => ({
  code: 'invalid_dpop_proof',
  reason,
  description,
});

/** The `jkt` confirmation (RFC 9449) of one jwtAuth, with what it holds open. */
export interface DpopConfirmation extends ConfirmationCheck {
  close(): Promise<void>;
}

/**
 * The `cnf.jkt` check: the token came as `Authorization: DPoP` with exactly one valid proof
 * (section 4.3) for this request, signed by the key the token is bound to, carrying a current
 * nonce when nonces are on, and never seen before within twice the iat window plus a clock
 * margin (the replay cache, keyed by thumbprint and jti; a cache that cannot answer refuses: 503).
 */
export function dpopConfirmation(options: DpopOptions, logger: Logger): DpopConfirmation {
  const window = options.iatWindowSeconds ?? 300;
  const policy: ProofPolicy = {
    algorithms: options.algorithms ?? DEFAULT_DPOP_ALGORITHMS,
    iatWindowSeconds: window,
    base: publicBase(options.publicUrl),
  };
  const ownCache = options.replayCache === undefined ? replayCache() : undefined;
  const cache: ReplayCache = options.replayCache ?? ownCache!;
  let secret: Secret | undefined;
  let nonces: DpopNonces | undefined;
  if (options.nonce !== undefined && options.nonce !== false) {
    const given = options.nonce === true ? {} : options.nonce;
    secret = optionalSecret(given.secret, 'dpop.nonce.secret', logger);
    if (secret !== undefined && Buffer.byteLength(secret.value) < 32) {
      secret.close();
      throw new ConfigError('dpop.nonce.secret', 'must be at least 32 characters long');
    }
    const random = DpopNonces.randomSecret();
    const source = secret;
    nonces = new DpopNonces(() => source?.value ?? random, given.lifetimeSeconds ?? 300);
  }

  const askForNonce = (reason: string): Problem => ({
    code: 'use_dpop_nonce',
    reason,
    description: 'The DPoP proof must carry the nonce the server provides',
    headers: { 'dpop-nonce': nonces!.issue() },
  });

  return {
    member: 'jkt',
    confirm(jkt: unknown, presentation: Presentation): Confirmation {
      // RFC 9449 section 7.2: a bound token presented as Bearer is refused, proof or not.
      if (presentation.scheme !== 'dpop') {
        return {
          code: 'invalid_token',
          reason: 'DPoP-bound token sent as Bearer',
          description: 'The token is DPoP-bound: send it with the DPoP scheme and a proof',
        };
      }
      if (typeof jkt !== 'string' || jkt === '')
        return {
          code: 'invalid_token',
          reason: 'cnf.jkt not a string',
          description: 'The token is not valid',
        };
      const message = presentation.host.message;
      const sent = headerOccurrences(message, 'dpop');
      if (sent.length === 0) return proofProblem('no DPoP header', 'A DPoP proof is required');
      if (sent.length > 1)
        return proofProblem('DPoP header sent more than once', 'Send exactly one DPoP proof');
      const proof = sent[0]!;
      if (proof.length > MAX_PROOF_LENGTH)
        return proofProblem('DPoP header longer than the limit', 'The DPoP proof is too large');
      const checked = checkProof(
        { proof, token: presentation.token, method: message.method ?? '', target: presentation.host.target },
        policy,
      );
      if (!checked.ok) return proofProblem(checked.reason, checked.description);
      const { thumbprint, jti, nonce } = checked.proof;
      // Section 4.3, check 12 (and 7.1): the proof's key is the one the token is bound to.
      if (thumbprint !== jkt)
        return proofProblem('proof key is not cnf.jkt', "The DPoP proof is not signed by the token's key");
      if (nonces !== undefined) {
        const state = nonces.check(nonce);
        if (!state.valid)
          return askForNonce(nonce === undefined ? 'proof without nonce' : 'proof nonce not current');
        if (state.aging) presentation.headers['dpop-nonce'] = nonces.issue();
      }
      return cache.claim(`dpop:${thumbprint}:${jti}`, 2 * window + JTI_CLOCK_MARGIN_SECONDS).then(
        (fresh) =>
          fresh ? undefined : proofProblem('proof jti seen before', 'The DPoP proof was already used'),
        (): Problem => ({
          code: 'unavailable',
          reason: 'DPoP replay cache unavailable',
          retryAfterSeconds: REPLAY_RETRY_AFTER_SECONDS,
        }),
      );
    },
    async close() {
      secret?.close();
      await ownCache?.close();
    },
  };
}
