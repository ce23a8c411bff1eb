import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { ApiKeyRecord } from '../src/index.js';

/** The demo's Basic users and API key, made at start-up and printed with the curl lines. */
export interface DemoCredentials {
  htpasswd: string;
  basicUser: { username: string; password: string };
  apiKey: string;
  apiKeys: ApiKeyRecord[];
  /** The key the echo upstream wants; backendAuth puts it on every forwarded /api request. */
  upstreamKey: string;
}

export function demoCredentials(): DemoCredentials {
  const password = 'wonderland';
  const apiKey = `pk_demo_${randomBytes(12).toString('hex')}`;
  return {
    // alice: bcrypt cost 10 (what `htpasswd -B` writes); user: the Apache docs' apr1 example.
    htpasswd: [
      '# demo users',
      `alice:${bcrypt.hashSync(password, 10)}`,
      'user:$apr1$TYiryv0/$8BvzLUO9IfGPGGsPnAgSu1',
      '',
    ].join('\n'),
    basicUser: { username: 'alice', password },
    apiKey,
    apiKeys: [{ name: 'demo-client', key: apiKey, scopes: ['chat:read'], metadata: { team: 'demo' } }],
    upstreamKey: process.env.DEMO_UPSTREAM_KEY ?? `sk_upstream_${randomBytes(12).toString('hex')}`,
  };
}
