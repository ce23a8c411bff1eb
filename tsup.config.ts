import { defineConfig } from 'tsup';

// One build, two module formats: ESM first, CommonJS for require() users.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    // portcullis/express: the adapter plus the global `Express.Request.auth` declaration;
    // portcullis/express/coexist: the same code (one shared chunk) without the declaration.
    express: 'adapters/express/with-request-auth.ts',
    'express-coexist': 'adapters/express/index.ts',
    koa: 'adapters/koa/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  // import.meta.url (used to find bcryptjs for the hashing workers) in the CommonJS build too.
  shims: true,
});
