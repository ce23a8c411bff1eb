import type { KeySet } from './key-set.js';

/** Where a provider's keys come from: inline, a file, a URL, OIDC discovery. */
export interface KeySource {
  /** The keys in force, or undefined while none have loaded yet. */
  current(): KeySet | undefined;
  /** Settles once a first load has been attempted (waiting for one in flight, or starting one if allowed). */
  ready(): Promise<void>;
  /** A token named a kid we do not know: refetch if the source can and the cool-down allows. */
  refreshForUnknownKid(): Promise<void>;
  /** When no keys are loaded: seconds before the next attempt, for `Retry-After`. */
  retryAfterSeconds(): number;
  close(): void;
}

/** Keys given in the options: they never change. */
export class StaticKeySource implements KeySource {
  constructor(private readonly keys: KeySet) {}
  current(): KeySet {
    return this.keys;
  }
  async ready(): Promise<void> {}
  async refreshForUnknownKid(): Promise<void> {}
  retryAfterSeconds(): number {
    return 1;
  }
  close(): void {}
}
