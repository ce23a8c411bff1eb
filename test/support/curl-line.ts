/**
 * Runs a printed `curl` command line as curl would, with fetch (no shell, no curl binary needed):
 * the words are split as a POSIX shell splits them ('...' and "..." quoting, no variables), and
 * only the flags the demo prints are understood (-s, -i, -X, -H, -d); any other flag throws, so
 * a printed line this cannot replay fails the test instead of being half run.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (char === "'" || char === '"') {
      const end = line.indexOf(char, i + 1);
      if (end < 0) throw new Error(`unterminated ${char} in: ${line}`);
      const quoted = line.slice(i + 1, end);
      if (char === '"' && /[$`\\]/.test(quoted)) throw new Error(`shell expansion in: ${quoted}`);
      word = (word ?? '') + quoted;
      i = end;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

export interface CurlResult {
  status: number;
  headers: Headers;
  body: string;
}

export async function runCurlLine(line: string): Promise<CurlResult> {
  const [command, ...args] = shellWords(line);
  if (command !== 'curl') throw new Error(`not a curl line: ${line}`);
  let method: string | undefined;
  let body: string | undefined;
  let url: string | undefined;
  const headers = new Headers();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-s' || arg === '-i' || arg === '-si') continue;
    const value = args[i + 1];
    if (arg === '-X' && value !== undefined) method = value;
    else if (arg === '-H' && value !== undefined) {
      const colon = value.indexOf(':');
      headers.append(value.slice(0, colon).trim(), value.slice(colon + 1).trim());
    } else if (arg === '-d' && value !== undefined) body = value;
    else if (!arg.startsWith('-') && url === undefined) {
      url = arg;
      continue;
    } else throw new Error(`a curl argument this replay does not know: ${arg}`);
    i++;
  }
  if (url === undefined) throw new Error(`no URL in: ${line}`);
  // curl -d: a POST with a form content type unless -H says otherwise.
  if (body !== undefined && !headers.has('content-type'))
    headers.set('content-type', 'application/x-www-form-urlencoded');
  const response = await fetch(url, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}
