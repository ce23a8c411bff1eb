import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { frameworks } from './support/frameworks.js';

// The compatibility run (npm run test:compat, PORTCULLIS_FRAMEWORKS=legacy): the same jwtAuth
// behaviour table, on Express 4 and Koa 2 instead of Express 5 and Koa 3.
const require = createRequire(import.meta.url);

describe('compatibility run', () => {
  it('runs on Express 4 and Koa 2', async () => {
    expect((await frameworks()).map((framework) => framework.name)).toEqual(['express4', 'koa2']);
    expect(require('express4/package.json').version).toMatch(/^4\./);
    expect(require('koa2/package.json').version).toMatch(/^2\./);
  });
});

await import('./jwt-modes.test.js');
