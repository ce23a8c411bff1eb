import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AdapterPayload } from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { inMemoryStore } from '../examples/authorization-server-store.js';

/**
 * The embedded authorization server's own storage (examples/authorization-server-store.ts), and
 * the promise it exists for: starting the server and registering a client print nothing.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('the embedded authorization server', () => {
  it('starts, registers a client that names a scope, refuses an unknown one, all without a word on stderr', async () => {
    // A process of its own: oidc-provider warns once per process, and at import time.
    const script = `
      import { startAuthorizationServer } from './examples/authorization-server.ts';
      const as = await startAuthorizationServer({ resources: { 'http://127.0.0.1:1/mcp': { scopes: ['mcp:tools'] } } });
      const registered = await fetch(as.issuer + '/reg', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:1/cb'], token_endpoint_auth_method: 'none', scope: 'mcp:tools' }),
      });
      const unknown = await fetch(as.issuer + '/auth?client_id=nobody&response_type=code');
      console.log(JSON.stringify({ registered: registered.status, unknown: unknown.status, body: await unknown.json() }));
      await as.close();
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      registered: 201,
      unknown: 400,
      body: { error: 'invalid_client', error_description: 'client is invalid' },
    });
  }, 30_000);
});

describe('its in-memory store', () => {
  const payload = (extra: Partial<AdapterPayload> = {}): AdapterPayload => ({ jti: 'x', ...extra });

  it('finds what it keeps, by id, by session uid and by user code, and consumes in place', async () => {
    const store = inMemoryStore();
    await store('Session').upsert('s1', payload({ uid: 'u1' }), 60);
    await store('DeviceCode').upsert('d1', payload({ userCode: 'ABCD' }), 60);
    expect(await store('Session').findByUid('u1')).toMatchObject({ uid: 'u1' });
    expect(await store('DeviceCode').findByUserCode('ABCD')).toMatchObject({ userCode: 'ABCD' });
    expect(await store('Session').find('s1')).toMatchObject({ uid: 'u1' });
    expect(await store('AccessToken').find('s1')).toBeUndefined();
    await store('Session').consume('s1');
    expect((await store('Session').find('s1'))?.consumed).toEqual(expect.any(Number));
    await store('Session').destroy('s1');
    expect(await store('Session').find('s1')).toBeUndefined();
    expect(await store('Session').findByUid('u1')).toBeUndefined();
  });

  it('forgets an expired record, and keeps one without a lifetime', async () => {
    const store = inMemoryStore();
    await store('AuthorizationCode').upsert('gone', payload(), 0);
    await store('Client').upsert('kept', payload(), undefined as unknown as number);
    expect(await store('AuthorizationCode').find('gone')).toBeUndefined();
    expect(await store('Client').find('kept')).toBeDefined();
  });

  it('revokes every token of a grant, and only those', async () => {
    const store = inMemoryStore();
    await store('AccessToken').upsert('a1', payload({ grantId: 'g1' }), 60);
    await store('RefreshToken').upsert('r1', payload({ grantId: 'g1' }), 60);
    await store('AccessToken').upsert('a2', payload({ grantId: 'g2' }), 60);
    await store('AccessToken').revokeByGrantId('g1');
    expect(await store('AccessToken').find('a1')).toBeUndefined();
    expect(await store('RefreshToken').find('r1')).toBeUndefined();
    expect(await store('AccessToken').find('a2')).toBeDefined();
  });

  it('shares nothing between two stores', async () => {
    const one = inMemoryStore();
    const other = inMemoryStore();
    await one('Client').upsert('c1', payload(), 60);
    expect(await other('Client').find('c1')).toBeUndefined();
  });

  it('holds at most 10,000 records a table, dropping the oldest first', async () => {
    const store = inMemoryStore();
    for (let i = 0; i <= 10_000; i++) await store('Client').upsert(`c${i}`, payload(), 60);
    expect(await store('Client').find('c0')).toBeUndefined();
    expect(await store('Client').find('c1')).toBeDefined();
    expect(await store('Client').find('c10000')).toBeDefined();
  });
});
