/**
 * A URL as portcullis shows it in a log line or an error message: scheme, host, port and
 * path. A user name or password becomes `***@` and a query `?***` (either may be a secret);
 * the fragment is dropped. Text that is not a URL is not shown at all.
 */
export function displayUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return '(not a URL)';
  }
  const userinfo = parsed.username !== '' || parsed.password !== '' ? '***@' : '';
  const query = parsed.search !== '' ? '?***' : '';
  return `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}${query}`;
}
