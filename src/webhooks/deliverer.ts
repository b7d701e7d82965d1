import { performance } from 'node:perf_hooks';
import {
  billingWebhook,
  DOCUMENTED_RETRY_POLICY,
  isRetryable,
  nextBackoff,
  signPayload,
  type BillingEvent,
  type RetryPolicy,
} from '../domain/webhooks.js';
import type { Store, Workspace } from '../store/store.js';
import type { Delivery } from '../store/webhook-log.js';

/**
 * Sends billing webhooks to the workspace's receiver, at least once, with the
 * documented retry policy, off the request path: enqueue() returns at once and the
 * first attempt starts on a later tick. Every delivery and its attempts go into the
 * store's webhook log (GET /_mock/webhooks) and its dead-letter queue. When the store
 * is reset or restored, attempts in flight are abandoned and the pending deliveries of
 * the restored log are sent again (delivery is at least once).
 *
 * Waits between attempts are real timers, so the retry budget is measured in real
 * elapsed time (performance.now()); the mock clock only stamps the attempts, so moving
 * it does not fast-forward a delivery in flight.
 */

export interface DelivererOptions {
  policy?: Partial<RetryPolicy>;
}

export class WebhookDeliverer {
  readonly policy: RetryPolicy;
  private timers = new Set<NodeJS.Timeout>();
  private inflight = new Set<AbortController>();
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private generation = 0;

  constructor(
    private readonly store: Store,
    options: DelivererOptions = {},
  ) {
    this.policy = { ...DOCUMENTED_RETRY_POLICY, ...options.policy };
    store.onReplaced(() => {
      this.cancel();
      for (const d of store.webhooks.pending()) this.start(d, JSON.stringify(d.payload));
    });
  }

  /** Records a delivery of `events` to the workspace's receiver and schedules its first attempt. */
  enqueue(workspace: Workspace, events: BillingEvent[]): Delivery {
    const payload = billingWebhook(events);
    const body = JSON.stringify(payload);
    const delivery: Delivery = {
      id: this.store.ids.uuid(),
      workspace_id: workspace.id,
      url: workspace.webhookUrl,
      state: workspace.webhookUrl ? 'pending' : 'no_receiver',
      payload,
      signature: signPayload(body, workspace.webhookSecret),
      attempts: [],
    };
    this.store.webhooks.add(delivery);
    if (workspace.webhookUrl) this.start(delivery, body);
    return delivery;
  }

  /** Resolves once no delivery is pending (delivered or dead-lettered). */
  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Abandons every attempt in flight or scheduled (the log keeps what it recorded). */
  cancel(): void {
    this.generation += 1;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.inflight) c.abort();
    this.timers.clear();
    this.inflight.clear();
    this.settle(this.pending);
  }

  private start(d: Delivery, body: string): void {
    this.pending += 1;
    const generation = this.generation;
    this.schedule(0, () => void this.attempt(d, body, performance.now(), generation));
  }

  private async attempt(d: Delivery, body: string, startedAt: number, generation: number): Promise<void> {
    const controller = new AbortController();
    this.inflight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error('timeout')), this.policy.attemptTimeoutMs);
    const t0 = performance.now();
    const at = new Date(this.store.clock.now()).toISOString();
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

  private finish(d: Delivery, state: 'delivered' | 'dead_lettered'): void {
    this.store.webhooks.finish(d, state);
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
}

function describeFetchError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
