import { request } from 'node:http';

/**
 * A GET with headers exactly as given (arrays become repeated header lines). The response keeps
 * its raw header lines too: Node folds repeated ones in `headers`.
 */
export function rawGet(
  url: string,
  headers: Record<string, string | string[]> = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every value of the header `name` (lower case) in a raw header list, one per line received. */
export function headerLines(rawHeaders: string[], name: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name) lines.push(rawHeaders[i + 1]!);
  }
  return lines;
}
