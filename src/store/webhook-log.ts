import type { BillingWebhook } from '../domain/webhooks.js';

/**
 * The record of billing webhook deliveries: every delivery with its attempts, oldest
 * first, and the dead-letter queue. Plain data owned by the store (so it is reset,
 * snapshotted and restored with everything else); src/webhooks/deliverer.ts does the
 * sending and writes the outcome here.
 */

export interface Attempt {
  at: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead_lettered' | 'no_receiver';

export interface Delivery {
  /** The X-Baseten-Request-ID, the same on every retry. */
  id: string;
  workspace_id: string;
  url: string | null;
  state: DeliveryState;
  payload: BillingWebhook;
  signature: string;
  attempts: Attempt[];
}

export interface WebhookLogSnapshot {
  deliveries: Delivery[];
  /** The dead-letter queue, oldest first (an entry may outlive its place in `deliveries`). */
  dead_letter: Delivery[];
}

export class WebhookLog {
  private deliveries: Delivery[] = [];
  private deadLetter: Delivery[] = [];

  /** Keeps at most `maxLog` deliveries (oldest dropped first), and as many dead letters. */
  constructor(private readonly maxLog = 10_000) {}

  add(d: Delivery): void {
    this.remember(this.deliveries, d);
  }

  /** Marks `d` finished; a dead-lettered delivery also joins the dead-letter queue. */
  finish(d: Delivery, state: 'delivered' | 'dead_lettered'): void {
    d.state = state;
    if (state === 'dead_lettered') this.remember(this.deadLetter, d);
  }

  /** Deliveries still waiting for an attempt, oldest first. */
  pending(): Delivery[] {
    return this.deliveries.filter((d) => d.state === 'pending');
  }

  /** A copy for GET /_mock/webhooks. */
  view(): { deliveries: Delivery[]; dead_letter: Delivery[] } {
    return structuredClone({ deliveries: this.deliveries, dead_letter: this.deadLetter });
  }

  reset(): void {
    this.deliveries = [];
    this.deadLetter = [];
  }

  snapshot(): WebhookLogSnapshot {
    return this.view();
  }

  /** Replaces the log with `s`; a dead letter that is also in the log is the same record again. */
  restore(s: WebhookLogSnapshot): void {
    const deliveries = structuredClone(s.deliveries);
    const byId = new Map(deliveries.map((d) => [d.id, d]));
    this.deliveries = deliveries;
    this.deadLetter = structuredClone(s.dead_letter).map((d) => byId.get(d.id) ?? d);
  }

  private remember(list: Delivery[], d: Delivery): void {
    list.push(d);
    if (list.length > this.maxLog) list.splice(0, list.length - this.maxLog);
  }
}
