import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteHeader, type MessageHead, NODE_VIEW_SLOTS_FOUND, setHeader } from '../src/http/headers.js';

// Node builds `headers` and `headersDistinct` lazily from `rawHeaders`, up to a private count
// the parser set. portcullis edits `rawHeaders` and keeps that count in step (so the distinct
// view need not be built on every stripped request, which costs 15k instructions on Express):
// whichever view is read, before or after the edit, it must show exactly the edited headers.

type Edit = (req: IncomingMessage) => void;
let edit: Edit = () => {};
let readDistinctFirst = false;
const server = createServer((req, res) => {
  const early = readDistinctFirst ? { ...req.headersDistinct } : undefined;
  try {
    edit(req);
  } catch (error) {
    res.statusCode = 500;
    res.end(JSON.stringify({ error: String(error) }));
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      early,
      headers: req.headers,
      distinct: { ...req.headersDistinct },
      raw: req.rawHeaders,
    }),
  );
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

interface Seen {
  headers: Record<string, string>;
  distinct: Record<string, string[]>;
  raw: string[];
}

function send(headers: [string, string][]): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: headers.flat() }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(JSON.parse(body) as Seen);
        else reject(new Error(`${res.statusCode}: ${body}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe("Node's header views stay in step with portcullis's edits", () => {
  it("finds this Node's private count (the fast path is the one tested here)", () => {
    expect(NODE_VIEW_SLOTS_FOUND).toBe(true);
  });

  for (const first of [false, true]) {
    const when = first ? 'read before the edit' : 'first read after the edit';
    it(`a deleted header, in every spelling, is in no view (headersDistinct ${when})`, async () => {
      readDistinctFirst = first;
      edit = (req) => deleteHeader(req as MessageHead, 'x-api-key');
      const seen = await send([
        ['Host', 'example'],
        ['X-Api-Key', 'one'],
        ['X_Api_Key', 'two'],
        ['Accept', 'a'],
        ['Accept', 'b'],
      ]);
      expect(seen.raw).toEqual(['Host', 'example', 'Accept', 'a', 'Accept', 'b', 'Connection', 'keep-alive']);
      expect(seen.headers).toEqual({ host: 'example', accept: 'a, b', connection: 'keep-alive' });
      expect(seen.distinct).toEqual({ host: ['example'], accept: ['a', 'b'], connection: ['keep-alive'] });
    });

    it(`a header set after a delete is in every view (headersDistinct ${when})`, async () => {
      readDistinctFirst = first;
      edit = (req) => {
        deleteHeader(req as MessageHead, 'authorization');
        setHeader(req as MessageHead, 'X-User', 'alice');
        setHeader(req as MessageHead, 'Accept', 'c');
      };
      const seen = await send([
        ['Host', 'example'],
        ['Authorization', 'Bearer secret'],
        ['Accept', 'a'],
        ['X-User', 'mallory'],
      ]);
      const after = JSON.stringify([seen.headers, seen.distinct, seen.raw]);
      expect(after).not.toContain('secret');
      expect(after).not.toContain('mallory');
      expect(seen.headers).toMatchObject({ 'x-user': 'alice', accept: 'c' });
      expect(seen.distinct).toMatchObject({ 'x-user': ['alice'], accept: ['c'] });
      expect(seen.distinct.authorization).toBeUndefined();
      expect(seen.raw.filter((_, i) => i % 2 === 0).sort()).toEqual(
        ['Accept', 'Connection', 'Host', 'X-User'].sort(),
      );
    });
  }

  it("a header past Node's maxHeadersCount stays out of every view after a strip and a set (found in review)", async () => {
    // Node keeps a few more raw entries than the 2,000 its views read; a count set to the
    // length after an edit would show the extra ones in a late-built headersDistinct while
    // req.headers (and the rules' context) never had them.
    readDistinctFirst = false;
    edit = (req) => {
      deleteHeader(req as MessageHead, 'authorization');
      setHeader(req as MessageHead, 'X-User', 'alice');
    };
    let head = 'GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n';
    for (let i = 0; i < 1005; i++) head += 'a:\r\n';
    head += 'X-Tenant: admin\r\n';
    for (let i = 0; i < 100; i++) head += 'b:\r\n';
    head += 'Connection: close\r\n\r\n';
    const body = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(head));
      let out = '';
      socket.on('data', (chunk) => (out += chunk));
      socket.on('end', () => resolve(out.slice(out.indexOf('\r\n\r\n') + 4)));
      socket.on('error', reject);
    });
    const seen = JSON.parse(body) as Seen;
    expect(seen.headers['x-tenant']).toBeUndefined();
    expect(seen.distinct['x-tenant']).toBeUndefined();
    expect(seen.headers['x-user']).toBe('alice');
    expect(seen.distinct['x-user']).toEqual(['alice']);
    expect(seen.distinct.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain('secret');
  });

  it('a message that is not an IncomingMessage (what backendAuth builds) is edited in its own views', () => {
    const message: MessageHead = {
      headers: { authorization: 'Bearer secret', accept: 'a' },
      rawHeaders: ['Authorization', 'Bearer secret', 'Accept', 'a'],
      headersDistinct: { authorization: ['Bearer secret'], accept: ['a'] },
    };
    deleteHeader(message, 'authorization');
    setHeader(message, 'x-user', 'alice');
    expect(message).toEqual({
      headers: { accept: 'a', 'x-user': 'alice' },
      rawHeaders: ['Accept', 'a', 'x-user', 'alice'],
      headersDistinct: { accept: ['a'], 'x-user': ['alice'] },
    });
  });
});
