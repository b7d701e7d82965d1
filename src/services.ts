import type { OffsetClock } from './domain/clock.js';
import type { Gateway } from './domain/gateway.js';
import type { Meter } from './domain/meter.js';
import type { State } from './store/state.js';
import type { WebhookDeliverer } from './webhooks/deliverer.js';

/** What a handler can reach: the backend, its state, the clock and the webhook deliverer. */
export interface MockServices {
  gateway: Gateway;
  state: State;
  meter: Meter;
  clock: OffsetClock;
  deliverer: WebhookDeliverer;
  inference: { latencyMs: number };
  /** Everything back to the configured defaults: state, counters, deliveries, clock. */
  reset(): void;
}
