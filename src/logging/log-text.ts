/**
 * Text that came from outside (a client, a custom provider, a token service, a cloud SDK's
 * error) as one safe piece of a log line:
 *  - every `secrets` value is replaced by `[credential]` where it appears as sent (verbatim,
 *    URL-encoded or form-encoded), and anything shaped like a JWT by `[token]`: an endpoint that
 *    echoes the client secret or the assertion it was sent must not put it in the log; and a
 *    URL's user name and password by `***`;
 *  - cut to `max` characters (then `... (N more characters)`), so a 100 KB answer stays a line;
 *  - everything outside printable ASCII, and `"` and `\`, escaped (`\u000d`, `\"`), so neither
 *    CR/LF nor U+2028 nor a terminal escape sequence can forge, hide or recolour a log line.
 * Redaction runs before the cut, so no cut can leave half a secret to read.
 * Anything that is not a string is shown as its type only.
 */
export function logText(value: unknown, max: number, secrets: readonly string[] = []): string {
  if (typeof value !== 'string') return `(${value === null ? 'null' : typeof value})`;
  let text = value;
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue;
    for (const spelling of new Set([secret, encodeURIComponent(secret), formEncoded(secret)])) {
      text = text.split(spelling).join('[credential]');
    }
  }
  // A URL's password is masked before the cut too: a cut inside it would leave its start with no
  // "@" after it to find. (Linear: each match attempt starts at a "//" and stops at the next "/".)
  text = text.replace(USERINFO, '//***@');
  // Cut before the JWT pattern runs: on at most `max` characters it cannot take long.
  const cut = text.length > max ? `${text.slice(0, max)}... (${text.length - max} more characters)` : text;
  return cut.replace(JWT_SHAPED, '[token]').replace(UNPRINTABLE, escaped);
}

/**
 * An error's class for the log, never its message nor its `name`: both are data that a
 * provider, a library or the service behind it may fill with anything, a token included. The
 * constructor's name is code.
 */
export function errorClass(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const name = error.constructor?.name;
  return typeof name === 'string' && /^[A-Za-z_$][\w$]{0,63}$/.test(name) ? name : 'Error';
}

// A JSON header's `{"` in base64url (`eyJ`), a dot and what follows: an access token or an
// assertion, or what the cut left of one.
const JWT_SHAPED = /eyJ[\w-]*\.[\w.-]*/g;
// A URL's user name and password (`postgres://user:password@db`), up to the LAST "@" before the
// path, as WHATWG URL reads it: a password may hold "@" (`//u:p@ss@db`), a space or a TAB (the
// parser encodes the one and drops the other). Masking too much is the safe side.
const USERINFO = /\/\/[^/\\]*@/g;
const UNPRINTABLE = /[^\x20-\x7e]|["\\]/g;

function escaped(char: string): string {
  return char === '"' || char === '\\'
    ? `\\${char}`
    : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function formEncoded(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
