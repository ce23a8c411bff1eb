import type { MessageHead } from '../http/headers.js';
import type { Locator } from './location.js';

// Every location an inbound scheme looked at on a request, so backendAuth can clear them all
// before forwarding: a scheme strips only the credential it accepted, and an API key sent
// beside a winning JWT, or a token a permissive scheme let through, must not reach the upstream.
//
// Kept in a WeakMap beside the message, as one locator in the usual case and a list once a
// second scheme reads. Not in a property of the message: Express gives each request a hidden
// class of its own, so adding a property to it copies the whole class every time (measured:
// one added property costs more instructions than the rest of an API key check).
const seen = new WeakMap<MessageHead, Locator | Locator[]>();

/** Records that an inbound scheme read its credential from `locator` on this request. */
export function noteReadLocation(message: MessageHead, locator: Locator): void {
  const known = seen.get(message);
  if (known === undefined) seen.set(message, locator);
  else if (Array.isArray(known)) {
    if (!known.includes(locator)) known.push(locator);
  } else if (known !== locator) seen.set(message, [known, locator]);
}

/** The locations the inbound schemes read on this request, in the order they first did. */
export function readLocations(message: MessageHead): readonly Locator[] {
  const known = seen.get(message);
  if (known === undefined) return [];
  return Array.isArray(known) ? known : [known];
}
