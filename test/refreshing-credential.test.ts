import { describe, expect, it } from 'vitest';
import { CredentialFetchError, type Expiring, RefreshingCredential } from '../src/backend/refreshing.js';
import type { Logger } from '../src/index.js';

// The cache under a hand-driven clock: which fetches happen, and what each caller is served.
// The adapters' tests drive the same cache through real token servers (backend-cloud.test.ts).

const MINUTE = 60_000;

function harness(lifetimeMs: number) {
  let now = 1_000_000;
  let issued = 0;
  const warnings: string[] = [];
  const logger: Logger = { warn: (message) => warnings.push(message) };
  const pending: { resolve: (value: Expiring<string>) => void; reject: (error: Error) => void }[] = [];
  const credential = new RefreshingCredential<string>(
    () =>
      new Promise<Expiring<string>>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
    { name: 'test', logger, now: () => now },
  );
  return {
    credential,
    warnings,
    get fetches() {
      return pending.length;
    },
    /** Answers the oldest unanswered fetch with a fresh token. */
    issue() {
      issued += 1;
      pending[issued - 1]!.resolve({ value: `token-${issued}`, expiresAt: now + lifetimeMs });
    },
    fail(index: number, error: Error) {
      issued += 1;
      pending[index]!.reject(error);
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('RefreshingCredential', () => {
  it('shares one fetch among concurrent callers', async () => {
    const h = harness(60 * MINUTE);
    const callers = Array.from({ length: 10 }, () => h.credential.get());
    await settle();
    expect(h.fetches).toBe(1);
    h.issue();
    expect(await Promise.all(callers)).toEqual(Array(10).fill('token-1'));
  });

  it('reuses the token until min(5 min, half its lifetime) before expiry, then renews once in the background', async () => {
    const h = harness(60 * MINUTE);
    const first = h.credential.get();
    await settle();
    h.issue();
    expect(await first).toBe('token-1');
    h.advance(54 * MINUTE);
    expect(await h.credential.get()).toBe('token-1');
    expect(h.fetches).toBe(1);
    h.advance(2 * MINUTE); // 4 minutes left: inside the 5-minute window
    const during = await Promise.all([h.credential.get(), h.credential.get(), h.credential.get()]);
    expect(during).toEqual(['token-1', 'token-1', 'token-1']); // served while the renewal runs
    await settle();
    expect(h.fetches).toBe(2);
    h.issue();
    await settle();
    expect(await h.credential.get()).toBe('token-2');
  });

  it('renews a short-lived token at half its lifetime', async () => {
    const h = harness(4 * MINUTE);
    const first = h.credential.get();
    await settle();
    h.issue();
    await first;
    h.advance(1.9 * MINUTE);
    await h.credential.get();
    expect(h.fetches).toBe(1);
    h.advance(0.2 * MINUTE);
    expect(await h.credential.get()).toBe('token-1');
    await settle();
    expect(h.fetches).toBe(2);
  });

  it('makes callers wait for a new token once the old one has expired', async () => {
    const h = harness(10 * MINUTE);
    const first = h.credential.get();
    await settle();
    h.issue();
    await first;
    h.advance(11 * MINUTE);
    const waiting = h.credential.get();
    await settle();
    expect(h.fetches).toBe(2);
    h.issue();
    expect(await waiting).toBe('token-2');
  });

  it('never caches a failure: the next caller fetches again', async () => {
    const h = harness(10 * MINUTE);
    const failed = h.credential.get();
    await settle();
    h.fail(0, new CredentialFetchError('down', 'unavailable'));
    await expect(failed).rejects.toThrow('down');
    const retried = h.credential.get();
    await settle();
    expect(h.fetches).toBe(2);
    h.issue();
    expect(await retried).toBe('token-2');
  });

  it('keeps serving the current token when a background renewal fails, and logs why', async () => {
    const h = harness(10 * MINUTE);
    const first = h.credential.get();
    await settle();
    h.issue();
    await first;
    h.advance(6 * MINUTE);
    expect(await h.credential.get()).toBe('token-1');
    await settle();
    h.fail(1, new CredentialFetchError('token service answered HTTP 500', 'unavailable'));
    await settle();
    expect(await h.credential.get()).toBe('token-1');
    expect(h.warnings.join('\n')).toContain('renewal failed (token service answered HTTP 500)');
    await settle();
    expect(h.fetches).toBe(2); // a pause after a failed renewal: not one fetch per request
    h.advance(1_000);
    expect(await h.credential.get()).toBe('token-1');
    await settle();
    expect(h.fetches).toBe(3); // then the next caller in the window tries again
  });

  it('gives up on a fetch that does not answer in time, and the next caller tries again', async () => {
    let calls = 0;
    const credential = new RefreshingCredential<string>(
      (signal) =>
        new Promise<Expiring<string>>((resolve) => {
          calls += 1;
          if (calls > 1) resolve({ value: 'late-but-fine' });
          signal.addEventListener('abort', () => undefined);
        }),
      { name: 'test', logger: { warn() {} }, timeoutMs: 20 },
    );
    const error = await credential.get().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CredentialFetchError);
    expect((error as CredentialFetchError).kind).toBe('unavailable');
    expect(await credential.get()).toBe('late-but-fine');
  });

  it.each([
    ['a lifetime of 1e308 seconds', 1e308 * 1000],
    ['an infinite lifetime', Number.POSITIVE_INFINITY],
    ['a lifetime that is not a number', Number.NaN],
  ])('caps %s at 24 hours: the token is fetched again after a day', async (_label, lifetimeMs) => {
    const h = harness(lifetimeMs);
    const first = h.credential.get();
    await settle();
    h.issue();
    expect(await first).toBe('token-1');
    h.advance(23 * 60 * MINUTE);
    expect(await h.credential.get()).toBe('token-1');
    expect(h.fetches).toBe(1);
    h.advance(60 * MINUTE + 1);
    const later = h.credential.get();
    await settle();
    expect(h.fetches).toBe(2);
    h.issue();
    expect(await later).toBe('token-2');
  });
});
