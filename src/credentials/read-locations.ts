import type { MessageHead } from '../http/headers.js';
import type { Logger } from '../logger.js';
import type { Asking } from '../refusals.js';
import type { Locator } from './location.js';

/**
 * An inbound scheme as this record needs it: where it reads its credential, and how it asks for
 * one (every member of an inbound pipeline is one).
 */
export interface CredentialReader {
  readonly locator: Locator;
  readonly asking: Asking;
  /** Where a later step (requireScopes, authorize) reports its refusals of this request. */
  readonly logger?: Logger;
}

// Every inbound scheme that looked at a request, for two later steps: backendAuth clears all
// their locations before forwarding (a scheme strips only the credential it accepted, and an
// API key sent beside a winning JWT, or a token a permissive scheme let through, must not reach
// the upstream), and requireScopes / authorize answer a request that reached them with no
// identity with these schemes' challenges (RFC 6750 section 3.1: 401, not 403).
//
// Kept in a WeakMap beside the message, as one scheme in the usual case and a list once a
// second scheme reads. Not in a property of the message: Express gives each request a hidden
// class of its own, so adding a property to it copies the whole class every time (measured:
// one added property costs more instructions than the rest of an API key check).
const seen = new WeakMap<MessageHead, CredentialReader | CredentialReader[]>();

/** Records that the inbound scheme `reader` read its credential location on this request. */
export function noteReadLocation(message: MessageHead, reader: CredentialReader): void {
  const known = seen.get(message);
  if (known === undefined) seen.set(message, reader);
  else if (Array.isArray(known)) {
    if (!known.includes(reader)) known.push(reader);
  } else if (known !== reader) seen.set(message, [known, reader]);
}

/** The inbound schemes that read this request, in the order they first did. */
export function readersOf(message: MessageHead): readonly CredentialReader[] {
  const known = seen.get(message);
  if (known === undefined) return [];
  return Array.isArray(known) ? known : [known];
}

/** The locations the inbound schemes read on this request, in the order they first did. */
export function readLocations(message: MessageHead): readonly Locator[] {
  const known = seen.get(message);
  if (known === undefined) return [];
  if (!Array.isArray(known)) return [known.locator];
  const locators: Locator[] = [];
  for (const reader of known) if (!locators.includes(reader.locator)) locators.push(reader.locator);
  return locators;
}
