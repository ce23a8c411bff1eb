import { displayUrl } from '../../http/display-url.js';
import { isHeaderSafe } from '../../http/header-value.js';
import { BodyTooLarge, readCapped } from '../../http/read-capped.js';
import { logText } from '../../logging/log-text.js';
import { CredentialFetchError, type Expiring } from '../refreshing.js';

const MAX_TOKEN_RESPONSE = 64 * 1024;
// Entra's descriptions (AADSTS code, sentence, trace and correlation ids) fit in this.
const MAX_LOGGED_DESCRIPTION = 300;

/** A token Entra ID (or @azure/identity) handed us, checked before it goes in a header. */
export function usableToken(token: unknown): string {
  if (typeof token !== 'string' || token === '' || !isHeaderSafe(token)) {
    throw new CredentialFetchError('Entra ID returned an unusable token', 'refused');
  }
  return token;
}

/** Where a redirect pointed, for the log: the URL as {@link displayUrl} shows it. */
function redirectTarget(response: Response, endpoint: URL): string {
  const location = response.headers.get('location');
  if (location === null) return ' (a redirect without Location)';
  try {
    return ` (a redirect to ${logText(displayUrl(new URL(location, endpoint)), 300)})`;
  } catch {
    return ' (a redirect to an unusable Location)';
  }
}

/**
 * POSTs the token request; maps every failure to a CredentialFetchError with no secret in it.
 * `secrets` (the client secret or assertion the form carries) are redacted from whatever of the
 * endpoint's answer reaches the log.
 *
 * A redirect is never followed: fetch would re-send the POST, client secret included, to
 * whatever origin the Location names. It is a refusal (502): retrying cannot help, and the
 * authority host is misconfigured or hostile. The body is counted while it streams and the
 * connection dropped past {@link MAX_TOKEN_RESPONSE}; `signal` (RefreshingCredential's
 * deadline) covers connecting and reading alike.
 */
export async function requestToken(
  endpoint: URL,
  form: URLSearchParams,
  signal: AbortSignal,
  secrets: readonly string[],
): Promise<Expiring<string>> {
  const fetchController = new AbortController();
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal: AbortSignal.any([signal, fetchController.signal]),
      redirect: 'manual',
    });
  } catch {
    throw new CredentialFetchError('the Entra ID token endpoint is unreachable', 'unavailable');
  }
  const status = response.status;
  if (status >= 300 && status < 400) {
    fetchController.abort();
    throw new CredentialFetchError(
      `the Entra ID token endpoint answered HTTP ${status}${redirectTarget(response, endpoint)}; not followed (the request carries the client credential)`,
      'refused',
    );
  }
  if (status >= 500 || status === 429) {
    fetchController.abort();
    throw new CredentialFetchError(`the Entra ID token endpoint answered HTTP ${status}`, 'unavailable');
  }
  let text: string;
  try {
    text = await readCapped(response, MAX_TOKEN_RESPONSE, fetchController);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      throw new CredentialFetchError(
        `the Entra ID token endpoint answered HTTP ${status} with more than ${MAX_TOKEN_RESPONSE} bytes`,
        'refused',
      );
    }
    throw new CredentialFetchError(
      `the Entra ID token endpoint's answer (HTTP ${status}) could not be read`,
      'unavailable',
    );
  }
  let json: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } =
    {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) json = parsed as typeof json;
  } catch {
    // reported below as an unusable answer; the body itself is never logged
  }
  if (status !== 200) {
    const code = typeof json.error === 'string' ? ` ${logText(json.error, 64, secrets)}` : '';
    const description =
      typeof json.error_description === 'string'
        ? `: "${logText(json.error_description, MAX_LOGGED_DESCRIPTION, secrets)}"`
        : '';
    throw new CredentialFetchError(
      `the Entra ID token endpoint refused the request (HTTP ${status}${code})${description}`,
      'refused',
    );
  }
  const token = usableToken(json.access_token);
  const lifetime = Number(json.expires_in);
  return {
    value: token,
    ...(Number.isFinite(lifetime) && lifetime > 0 ? { expiresAt: Date.now() + lifetime * 1000 } : {}),
  };
}
