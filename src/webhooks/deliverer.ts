import { performance } from 'node:perf_hooks';
import type { Clock } from '../domain/clock.js';
import { newUuid } from '../domain/ids.js';
import {
  billingWebhook,
  DOCUMENTED_RETRY_POLICY,
  isRetryable,
  nextBackoff,
  signPayload,
  type BillingEvent,
  type BillingWebhook,
  type RetryPolicy,
} from '../domain/webhooks.js';
import type { Workspace } from '../store/state.js';

/**
 * Sends billing webhooks to the workspace's receiver, at least once, with the
 * documented retry policy, off the request path: enqueue() returns at once and the
 * first attempt starts on a later tick. Keeps a log of every delivery and its attempts
 * (GET /_mock/webhooks) and the dead-letter queue.
 *
 * Waits between attempts are real timers, so the retry budget is measured in real
 * elapsed time (performance.now()); the mock clock only stamps the attempts, so moving
 * it does not fast-forward a delivery in flight.
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

export interface DelivererOptions {
  policy?: Partial<RetryPolicy>;
  /** How many deliveries the log keeps (oldest dropped first); the dead-letter queue keeps as many. */
  maxLog?: number;
}

export class WebhookDeliverer {
  readonly policy: RetryPolicy;
  private readonly maxLog: number;
  private log: Delivery[] = [];
  private deadLetter: Delivery[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private inflight = new Set<AbortController>();
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private generation = 0;

  constructor(
    private readonly clock: Clock,
    options: DelivererOptions = {},
  ) {
    this.policy = { ...DOCUMENTED_RETRY_POLICY, ...options.policy };
    this.maxLog = options.maxLog ?? 10_000;
  }

  /** Records a delivery of `events` to the workspace's receiver and schedules its first attempt. */
  enqueue(workspace: Workspace, events: BillingEvent[]): Delivery {
    const payload = billingWebhook(events);
    const body = JSON.stringify(payload);
    const delivery: Delivery = {
      id: newUuid(),
      workspace_id: workspace.id,
      url: workspace.webhookUrl,
      state: workspace.webhookUrl ? 'pending' : 'no_receiver',
      payload,
      signature: signPayload(body, workspace.webhookSecret),
      attempts: [],
    };
    this.remember(this.log, delivery);
    if (workspace.webhookUrl) {
      this.pending += 1;
      this.schedule(0, () => void this.attempt(delivery, body, performance.now(), this.generation));
    }
    return delivery;
  }

  snapshot(): { deliveries: Delivery[]; dead_letter: Delivery[] } {
    return structuredClone({ deliveries: this.log, dead_letter: this.deadLetter });
  }

  /** Resolves once no delivery is pending (delivered or dead-lettered). */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels every pending attempt and forgets every delivery. */
  reset(): void {
    this.generation += 1;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.inflight) c.abort();
    this.timers.clear();
    this.inflight.clear();
    this.log = [];
    this.deadLetter = [];
    this.settle(this.pending);
  }

  private async attempt(d: Delivery, body: string, startedAt: number, generation: number): Promise<void> {
    const controller = new AbortController();
    this.inflight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error('timeout')), this.policy.attemptTimeoutMs);
    const t0 = performance.now();
    const at = new Date(this.clock.now()).toISOString();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(d.url as string, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: controller.signal,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'frontier-gateway-mock',
          'X-Baseten-Signature': d.signature,
          'X-Baseten-Request-ID': d.id,
        },
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      error = controller.signal.aborted ? `timed out after ${this.policy.attemptTimeoutMs} ms` : describeFetchError(e);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(controller);
    }
    if (generation !== this.generation) return;
    d.attempts.push({ at, status, error, duration_ms: Math.round(performance.now() - t0) });
    if (status !== null && status >= 200 && status < 300) return this.finish(d, 'delivered');
    const wait = isRetryable(status) ? nextBackoff(this.policy, d.attempts.length, performance.now() - startedAt) : null;
    if (wait === null) return this.finish(d, 'dead_lettered');
    this.schedule(wait, () => void this.attempt(d, body, startedAt, generation));
  }

  private finish(d: Delivery, state: DeliveryState): void {
    d.state = state;
    if (state === 'dead_lettered') this.remember(this.deadLetter, d);
    this.settle(1);
  }

  private settle(n: number): void {
    this.pending = Math.max(0, this.pending - n);
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private schedule(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private remember(list: Delivery[], d: Delivery): void {
    list.push(d);
    if (list.length > this.maxLog) list.splice(0, list.length - this.maxLog);
  }
}

function describeFetchError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
