import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createMock, type Mock, type MockOptions } from './app.js';
import { rotateWebhookSecret, type RotatedSecret } from './service/webhook-secrets.js';
import type { Snapshot } from './store/snapshot.js';
import { DEFAULT_TIMEOUTS, type ServerTimeouts } from './timeouts.js';

/**
 * Programmatic use, for integrators' own test suites:
 *
 *   import { startMock } from 'frontier-gateway-mock';
 *   const mock = await startMock();          // a free port on 127.0.0.1
 *   // ... point your client at mock.url ...
 *   mock.reset();                            // between tests
 *   await mock.close();
 */

export interface StartOptions extends MockOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** How long the server waits for slow or idle clients (Node's own server timeouts); 0 turns one off. */
  timeouts?: ServerTimeouts;
}

/** How often Node checks headersTimeout and requestTimeout (its default, 30 s, lets a slow client stay up to 30 s past them). */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

export interface RunningMock {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:54321. */
  url: string;
  port: number;
  /** Everything back to the defaults: groups, keys, counters, deliveries, clock. */
  reset(): void;
  /** The whole state (groups, keys as hashes, counters, webhook log, clock) in the versioned format. */
  snapshot(): Snapshot;
  /** Puts back a snapshot exactly (clock included); throws SnapshotError and changes nothing if it is bad. */
  restore(snapshot: unknown): void;
  /**
   * Rotates a workspace's webhook signing secret (to `secret`, or a generated one, returned
   * once): for 24 hours of mock time every delivery is signed with both, newest first.
   */
  rotateWebhookSecret(workspaceId: string, secret?: string): RotatedSecret;
  close(): Promise<void>;
  /** The mock behind the server, for assertions on its state. */
  mock: Mock;
  server: Server;
}

export async function startMock(options: StartOptions = {}): Promise<RunningMock> {
  const mock = await createMock(options);
  const t = { ...DEFAULT_TIMEOUTS, ...definedOnly(options.timeouts ?? {}) };
  const server = createServer(
    {
      headersTimeout: t.headersMs,
      requestTimeout: t.requestMs,
      keepAliveTimeout: t.keepAliveMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    mock.app,
  );
  server.timeout = t.idleMs;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    mock,
    server,
    reset: () => mock.reset(),
    snapshot: () => mock.snapshot(),
    restore: (snapshot) => mock.restore(snapshot),
    rotateWebhookSecret: (workspaceId, secret) => rotateWebhookSecret(mock.store, workspaceId, secret),
    close: () =>
      new Promise<void>((resolve, reject) => {
        mock.close();
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export { createMock } from './app.js';
export { DEFAULT_TIMEOUTS, type ServerTimeouts } from './timeouts.js';
export type { Mock, MockOptions } from './app.js';
export { DEFAULT_CONFIG, DEFAULT_WEBHOOK_SECRET, type MockConfig } from './config.js';
export type { RotatedSecret } from './service/webhook-secrets.js';
export { signPayload, verifySignature, type BillingEvent, type BillingWebhook } from './domain/webhooks.js';
export { countTokens, promptTokens } from './domain/tokens.js';
export { SHIPPED_SCENARIOS_DIR, shippedScenarioNames } from './service/scenarios/shipped.js';
export { SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot } from './store/snapshot.js';
export { StateFileError, type StateFileHealth, type StateFileOptions } from './store/state-file.js';
