import { afterAll, afterEach, beforeAll } from 'vitest';
import type { AzureBackendOptions, Logger } from '../../src/index.js';
import { tracker } from './backend-harness.js';
import { type FakeEntra, startFakeEntra } from './fake-entra.js';
import type { Framework } from './frameworks.js';
import { type RecordingUpstream, startRecordingUpstream } from './recording-upstream.js';

/** What a describe block about backendAuth azure gets from entraGateways(). */
export interface EntraGateways {
  /** The recording upstream every gateway forwards to (opened once for the block). */
  readonly upstream: RecordingUpstream;
  /** The fake token endpoint of the last gateway made. */
  readonly entra: FakeEntra;
  /** What a test opens itself, closed after it like the gateways. */
  readonly perTest: ReturnType<typeof tracker>;
  /** A fresh fake Entra ID and a gateway whose backendAuth azure uses it; its URL. */
  gateway(azure: AzureBackendOptions, options?: { logger?: Logger; before?: unknown[] }): Promise<string>;
}

/**
 * For a `describe` on `framework`: registers the hooks that open one recording upstream and
 * close, after each test, the token endpoints and gateways it made. `azure` is the tenant and
 * client every gateway uses; a test adds its credential (client secret or federated file).
 */
export function entraGateways(
  framework: Framework,
  azure: { tenantId: string; clientId: string },
): EntraGateways {
  let upstream: RecordingUpstream | undefined;
  let entra: FakeEntra | undefined;
  const opened = tracker();
  const perTest = tracker();
  beforeAll(async () => {
    upstream = opened.track(await startRecordingUpstream());
  });
  afterAll(() => opened.closeAll());
  afterEach(() => perTest.closeAll());
  const made = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`entraGateways: no ${what} yet`);
    return value;
  };
  return {
    get upstream() {
      return made(upstream, 'upstream (read it inside a test)');
    },
    get entra() {
      return made(entra, 'token endpoint (call gateway() first)');
    },
    perTest,
    async gateway(credential, { logger, before = [] } = {}) {
      const fake = perTest.track(await startFakeEntra(azure.tenantId));
      entra = fake;
      const middleware = perTest.track(
        framework.lib.backendAuth({
          azure: { ...azure, authorityHost: fake.authorityHost, ...credential },
          ...(logger === undefined ? {} : { logger }),
        }),
      );
      const forwardTo = made(upstream, 'upstream (read it inside a test)').url;
      return perTest.track(await framework.serve([...before, middleware], { forwardTo })).url;
    },
  };
}
