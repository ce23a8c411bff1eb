import type { Auth } from '../identity.js';
import type { ForwardedRequest } from './forwarded.js';

/**
 * One way of giving the upstream its credential (a key, a passthrough, a cloud signature or
 * token). The client's own credentials are already gone when `apply` runs.
 */
export interface CredentialKind {
  /** For logs and errors: `key`, `aws`, `gcp`, `azure`, `passthrough`. */
  readonly name: string;
  /** True when `apply` needs the upstream URL (a signature, a default audience). */
  readonly needsUpstream: boolean;
  apply(request: ForwardedRequest, auth: Auth | undefined): void | Promise<void>;
  close(): void;
}
