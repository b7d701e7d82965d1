import { performance } from 'node:perf_hooks';
import {
  activeSecrets,
  billingWebhook,
  DOCUMENTED_RETRY_POLICY,
  isRetryable,
  nextBackoff,
  type BillingEvent,
  type RetryPolicy,
} from '../domain/webhooks.js';
import type { Workspace } from '../domain/records.js';
import type { Store } from '../store/store.js';
import { earliestAt, signatureOf, storedDelivery, type StoredDelivery } from '../store/webhook-log.js';

/**
 * Sends billing webhooks to the workspace's receiver, at least once, with the
 * documented retry policy, off the request path: a prepared delivery's commit() returns at
 * once and the first attempt starts on a later tick. Every delivery and its attempts go into the
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
  /** At most this many attempts (so sockets) are in flight at once; the rest wait their turn. */
  maxConcurrent?: number;
  /** One line per failed attempt and per dead-lettered delivery; never a key or a secret. */
  log?: (line: string) => void;
}

/** Outgoing webhook attempts in flight at once. */
export const DEFAULT_MAX_CONCURRENT = 8;

/** A delivery made ready (serialized; signed when first needed) but not yet recorded or sent. */
export interface PreparedDelivery {
  /** Records and schedules it; cannot fail. */
  commit(): void;
}

export class WebhookDeliverer {
  readonly policy: RetryPolicy;
  private readonly maxConcurrent: number;
  private readonly logLine: (line: string) => void;
  private timers = new Set<NodeJS.Timeout>();
  private inflight = new Set<AbortController>();
  private running = 0;
  private waiting: (() => void)[] = [];
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private generation = 0;

  constructor(
    private readonly store: Store,
    options: DelivererOptions = {},
  ) {
    this.policy = { ...DOCUMENTED_RETRY_POLICY, ...options.policy };
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT);
    this.logLine = options.log ?? (() => {});
    store.onReplaced(() => {
      this.cancel();
      for (const d of store.webhooks.pending()) this.start(d);
    });
  }

  /**
   * Does everything that can fail (serializing) without recording anything, so a
   * caller can prepare, then charge, then commit, and a failure leaves no trace.
   */
  prepare(workspace: Workspace, events: BillingEvent[]): PreparedDelivery {
    const body = JSON.stringify(billingWebhook(events));
    // Signed when first needed (storedDelivery), with the secrets active now: during a
    // rotation every active one, newest first (retries resend the same signature).
    // Without a rotation in progress, the one secret, with no list built on every completion.
    const secrets = workspace.retiringWebhookSecrets?.length ? activeSecrets(workspace.webhookSecret, workspace.retiringWebhookSecrets, this.store.clock.now()) : null;
    const secret = secrets === null || secrets.length === 1 ? workspace.webhookSecret : secrets;
    const url = workspace.webhookUrl;
    // The events API finds events by time (src/store/webhook-log.ts): taken from the events, not re-read from the body.
    const at = earliestAt(events);
    return {
      commit: () => {
        const delivery = storedDelivery({
          id: this.store.ids.uuid(),
          workspace_id: workspace.id,
          url,
          state: url ? 'pending' : 'no_receiver',
          body,
          secret,
          attempts: [],
          at,
        });
        this.store.webhooks.add(delivery);
        if (url) this.start(delivery);
      },
    };
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
    this.waiting = [];
    this.running = 0;
    this.settle(this.pending);
  }

  private start(d: StoredDelivery): void {
    this.pending += 1;
    const generation = this.generation;
    this.schedule(0, () => void this.attempt(d, performance.now(), generation));
  }

  /** Waits for one of the maxConcurrent slots. */
  private acquire(): Promise<void> {
    if (this.running < this.maxConcurrent) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(generation: number): void {
    if (generation !== this.generation) return;
    const next = this.waiting.shift();
    if (next) next();
    else this.running = Math.max(0, this.running - 1);
  }

  private async attempt(d: StoredDelivery, startedAt: number, generation: number): Promise<void> {
    await this.acquire();
    if (generation !== this.generation) return;
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
        body: d.body,
        redirect: 'manual',
        signal: controller.signal,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'frontier-gateway-mock',
          'X-Baseten-Signature': signatureOf(d),
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
      this.release(generation);
    }
    if (generation !== this.generation) return;
    this.store.webhooks.addAttempt(d, { at, status, error, duration_ms: Math.round(performance.now() - t0) });
    if (status !== null && status >= 200 && status < 300) return this.finish(d, 'delivered');
    // An error text may quote the whole URL; the log names only its origin.
    const outcome = status !== null ? `HTTP ${status}` : (error as string).split(d.url as string).join(originOf(d.url));
    const wait = isRetryable(status) ? nextBackoff(this.policy, d.attempts.length, performance.now() - startedAt) : null;
    if (wait === null) {
      this.logLine(`webhook ${d.id} to ${originOf(d.url)} dead-lettered after ${d.attempts.length} attempt(s); last: ${outcome}`);
      return this.finish(d, 'dead_lettered');
    }
    this.logLine(`webhook ${d.id} to ${originOf(d.url)} attempt ${d.attempts.length} failed (${outcome}); retrying in ${wait} ms`);
    this.schedule(wait, () => void this.attempt(d, startedAt, generation));
  }

  private finish(d: StoredDelivery, state: 'delivered' | 'dead_lettered'): void {
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

/** Scheme, host and port only: a receiver URL may carry a token in its path, query or user info. */
function originOf(url: string | null): string {
  try {
    return new URL(url as string).origin;
  } catch {
    return 'an invalid URL';
  }
}
