import type { OffsetClock } from '../domain/clock.js';
import type { Meter } from '../domain/meter.js';
import type { Gateway } from '../service/gateway.js';
import type { InferenceDeps } from '../service/inference.js';
import type { ScenarioSummary } from '../service/scenarios/apply.js';
import type { WebhookDeliverer } from '../service/webhook-deliverer.js';
import type { Snapshot } from '../store/snapshot.js';
import type { Store } from '../store/store.js';
import type { FaultBook } from './faults.js';
import type { Journal } from './journal.js';

/** What a handler can reach: the services, the store that holds all state, and the mock's own instruments. */
export interface MockServices {
  /** Groups, keys, endpoints, limit accounting and callers (src/service/gateway.ts). */
  gateway: Gateway;
  store: Store;
  /** The store's clock and meter, for convenience. */
  clock: OffsetClock;
  meter: Meter;
  deliverer: WebhookDeliverer;
  /** Completion options; `deps` is what serveCompletion needs, built once (prompt cache and its rule included). */
  inference: { latencyMs: number; deps: InferenceDeps };
  /** Recent exchanges, redacted (GET /_mock/requests); filled only when the admin routes are served. */
  journal: Journal;
  /** Injected faults (/_mock/faults); applied only when the admin routes are served. */
  faults: FaultBook;
  /** Everything back to the configured defaults: state, counters, deliveries, clock. */
  reset(): void;
  /** The whole state in the versioned snapshot format (secrets hashed). */
  snapshot(): Snapshot;
  /** Replaces the whole state with a snapshot, or throws SnapshotError and changes nothing. */
  restore(snapshot: unknown): void;
  /** Applies one scenario document on top of the current state, all or nothing; throws ScenarioError. */
  loadScenario(raw: unknown, source?: string): Promise<ScenarioSummary>;
  /** What GET /_mock/health reports. */
  health(): MockHealth;
}

export interface MockHealth {
  version: string;
  /** Whether the other /_mock/ routes are served. */
  admin: boolean;
  /** The --state-file and whether it is being written, or null without one. */
  state_file: { path: string; ok: boolean; error: string | null } | null;
}
