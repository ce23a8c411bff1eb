import type { AuthError } from './errors.js';
import type { Proven } from './identity.js';

/**
 * How a scheme treats a request, the same for every scheme (README "Modes"):
 *
 * | credential        | strict | optional          | permissive                    |
 * |-------------------|--------|-------------------|-------------------------------|
 * | none              | 401    | pass, no identity | pass                          |
 * | present, invalid  | 401    | 401               | pass, credential left in place|
 * | present, valid    | pass, identity, credential stripped (all modes)           |
 */
export type Mode = 'strict' | 'optional' | 'permissive';

export const MODES: readonly Mode[] = ['strict', 'optional', 'permissive'];

/** What a scheme found, before the mode is applied. */
export type Outcome =
  | { kind: 'absent'; error: AuthError }
  | { kind: 'invalid'; error: AuthError }
  /** A request we refuse to interpret (a credential sent twice): refused in every mode. */
  | { kind: 'malformed'; error: AuthError }
  | { kind: 'valid'; proven: Proven };

export type Decision =
  | { action: 'pass' }
  | { action: 'accept'; proven: Proven }
  | { action: 'reject'; error: AuthError };

const PASS: Decision = { action: 'pass' };

/** The one place modes are applied. */
export function applyMode(mode: Mode, outcome: Outcome): Decision {
  switch (outcome.kind) {
    case 'valid':
      return { action: 'accept', proven: outcome.proven };
    case 'malformed':
      return { action: 'reject', error: outcome.error };
    case 'absent':
      return mode === 'strict' ? { action: 'reject', error: outcome.error } : PASS;
    case 'invalid':
      return mode === 'permissive' ? PASS : { action: 'reject', error: outcome.error };
  }
}
