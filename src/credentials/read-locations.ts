import type { MessageHead } from '../http/headers.js';
import type { Locator } from './location.js';

// Every location an inbound scheme looked at on a request, so backendAuth can clear them all
// before forwarding: a scheme strips only the credential it accepted, and an API key sent
// beside a winning JWT, or a token a permissive scheme let through, must not reach the upstream.
//
// Kept on the message under a symbol (one property per request; a WeakMap entry per request
// costs more), as one locator in the usual case and a list once a second scheme reads.
const seen = Symbol('portcullis.readLocations');

interface WithReadLocations {
  [seen]?: Locator | Locator[];
}

/** Records that an inbound scheme read its credential from `locator` on this request. */
export function noteReadLocation(message: MessageHead, locator: Locator): void {
  const holder = message as WithReadLocations;
  const known = holder[seen];
  if (known === undefined) holder[seen] = locator;
  else if (Array.isArray(known)) {
    if (!known.includes(locator)) known.push(locator);
  } else if (known !== locator) holder[seen] = [known, locator];
}

/** The locations the inbound schemes read on this request, in the order they first did. */
export function readLocations(message: MessageHead): readonly Locator[] {
  const known = (message as WithReadLocations)[seen];
  if (known === undefined) return [];
  return Array.isArray(known) ? known : [known];
}
