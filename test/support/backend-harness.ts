import { expect } from 'vitest';
import type { Framework } from './frameworks.js';
import type { RecordingUpstream } from './recording-upstream.js';

/** A Bedrock model id with the colon that SigV4 paths must survive, and its invoke path. */
export const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
export const INVOKE = `/model/${MODEL}/invoke`;

/** A Bedrock Anthropic request body carrying `text`. */
export const messages = (text: string) =>
  JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 64,
    messages: [{ role: 'user', content: text }],
  });

/** A whole answer from a gateway. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Sends one request to `url + path` and reads the whole answer. */
export async function send(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** `count` requests sent at once to `url` (paths `/call/<i>`). */
export async function concurrently(url: string, count: number, init: Parameters<typeof send>[2] = {}) {
  return Promise.all(Array.from({ length: count }, (_, i) => send(url, `/call/${i}`, init)));
}

/** Asserts a backendAuth refusal: status, JSON `{ error, error_description }`, none of `secrets`. */
export function expectRefusal(
  answer: Answer,
  status: number,
  error: string,
  secrets: readonly string[] = [],
): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(JSON.parse(answer.text)).toEqual({ error, error_description: expect.any(String) });
  for (const secret of secrets) expect(answer.text).not.toContain(secret);
}

/** The error `fn` throws (fails the test when it throws nothing). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  expect.fail('expected a throw');
}

/** Middleware (for `framework`) that calls `onArrive` for each request, then goes on. */
function arrivals(framework: Framework, onArrive: () => void): unknown {
  return framework.name.startsWith('express')
    ? (_req: unknown, _res: unknown, next: () => void) => {
        onArrive();
        next();
      }
    : async (_ctx: unknown, next: () => Promise<unknown>) => {
        onArrive();
        await next();
      };
}

/**
 * A gate that opens once `count` requests have reached the gateway (the fake token services
 * hold their answers until then), so "concurrent callers share one fetch" does not depend on
 * timing. `before` goes in front of backendAuth.
 */
export function gateAfter(framework: Framework, count: number): { gate: Promise<void>; before: unknown } {
  let arrived = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const before = arrivals(framework, () => {
    arrived += 1;
    // A little slack lets the last request get from here to the credential cache.
    if (arrived === count) setTimeout(open, 50);
  });
  return { gate, before };
}

/** Gateways, upstreams and middlewares a test opened, closed together (newest first). */
export function tracker() {
  const closables: { close(): Promise<void> }[] = [];
  return {
    track<T extends { close(): Promise<void> }>(closable: T): T {
      closables.push(closable);
      return closable;
    },
    async closeAll() {
      for (const closable of closables.splice(0).reverse()) await closable.close();
    },
  };
}

/** The Authorization value an upstream request carried. */
export const authorizationOf = (upstream: RecordingUpstream, index = -1) =>
  upstream.received.at(index)?.headers.authorization;
