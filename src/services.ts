import type { OffsetClock } from './domain/clock.js';
import type { EndpointBook } from './domain/endpoint-book.js';
import type { Gateway } from './domain/gateway.js';
import type { FaultBook } from './http/faults.js';
import type { Journal } from './http/journal.js';
import type { Meter } from './domain/meter.js';
import type { ScenarioSummary } from './scenarios/apply.js';
import type { Snapshot } from './store/snapshot.js';
import type { Store } from './store/store.js';
import type { WebhookDeliverer } from './webhooks/deliverer.js';

/** What a handler can reach: the backend, the store that holds all state, and the webhook deliverer. */
export interface MockServices {
  gateway: Gateway;
  /** Endpoints: what each slug routes to. */
  endpoints: EndpointBook;
  store: Store;
  /** The store's clock and meter, for convenience. */
  clock: OffsetClock;
  meter: Meter;
  deliverer: WebhookDeliverer;
  inference: { latencyMs: number };
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
}
