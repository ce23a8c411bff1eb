import type { MessageHead } from '../http/headers.js';
import type { Locator } from './location.js';

// Every location an inbound scheme looked at on a request, so backendAuth can clear them all
// before forwarding: a scheme strips only the credential it accepted, and an API key sent
// beside a winning JWT, or a token a permissive scheme let through, must not reach the upstream.
const seen = new WeakMap<MessageHead, Set<Locator>>();

/** Records that an inbound scheme read its credential from `locator` on this request. */
export function noteReadLocation(message: MessageHead, locator: Locator): void {
  const locators = seen.get(message);
  if (locators === undefined) seen.set(message, new Set([locator]));
  else locators.add(locator);
}

/** The locations the inbound schemes read on this request, in the order they first did. */
export function readLocations(message: MessageHead): Iterable<Locator> {
  return seen.get(message) ?? [];
}
