import { isIP } from 'node:net';

/**
 * Whether a WHATWG-parsed `hostname` is this machine's loopback: an IPv4 address in
 * 127.0.0.0/8, the IPv6 address `::1`, or exactly `localhost`.
 *
 * The host must be the one `new URL()` produced: it has already rewritten every numeric IPv4
 * spelling (`127.1`, `0x7f.1`, `2130706433`, a trailing dot) to dotted-quad and every `::1`
 * spelling to `[::1]`, so a name that merely starts with `127.` (`127.attacker.invalid`,
 * `127.0.0.1.nip.io`) is a domain here and is not loopback. IPv4-mapped `[::ffff:7f00:1]`,
 * `localhost.` and `*.localhost` are refused: nobody needs them, and whether they reach
 * loopback depends on the system's resolver and socket options.
 */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
}

/**
 * Why portcullis must not fetch keys or tokens from `url`, or undefined when it may: https
 * anywhere, plain http only to a loopback host (local development and tests), never with a
 * user name or password (fetch() refuses them, and they would end up in logs).
 */
export function unfetchableUrl(url: URL): string | undefined {
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return isLoopbackHost(url.hostname)
      ? undefined
      : 'must use https (plain http only to 127.0.0.0/8, [::1] or localhost)';
  }
  return 'must be an https URL';
}
