import type { EndpointTarget } from './endpoints.js';

/**
 * The gateway's endpoint sync, as a pure rule: inference does not read endpoints as they
 * are, but as the gateway last synced them (every 60 s on the live service, so a create,
 * re-point or delete takes up to a minute to reach inference). Here a change made at
 * `t` becomes effective for inference at `t + syncMs`; management reads see it at once.
 *
 * Only what is still pending is kept: per slug, the changes not yet effective, each with
 * the route the slug had just before it. What inference sees at `now` is the route before
 * the earliest change still pending, or, when none is, the route as it is. Changes
 * arrive in time order (the clock only moves forward; a restore, which may move it back,
 * starts afresh with `clear()`), so each slug's queue is ordered by when it takes effect.
 */

/** Where a slug routes: the workspace whose endpoint holds it, and its targets. */
export interface Route {
  workspaceId: string;
  targets: readonly EndpointTarget[];
}

interface Pending {
  effectiveAt: number;
  /** The route the slug had just before this change. */
  before: Route | null;
}

export class EndpointSync {
  private pending = new Map<string, Pending[]>();

  /** `syncMs` 0: every change is effective at once and nothing is kept. */
  constructor(readonly syncMs: number) {
    if (!Number.isSafeInteger(syncMs) || syncMs < 0) throw new RangeError(`endpoint sync: ${syncMs} is not a whole number of ms >= 0`);
  }

  /** A change of `slug`'s route made at `at`; `before` is the route it had until then (null: none). */
  changed(slug: string, at: number, before: Route | null): void {
    if (this.syncMs === 0) return;
    const queue = this.pending.get(slug);
    const entry = { effectiveAt: at + this.syncMs, before };
    if (queue) queue.push(entry);
    else this.pending.set(slug, [entry]);
  }

  /** What inference sees of `slug` at `now`, given its route as it is now. */
  seen(slug: string, now: number, current: Route | null): Route | null {
    const queue = this.pending.get(slug);
    if (!queue) return current;
    let done = 0;
    while (done < queue.length && (queue[done] as Pending).effectiveAt <= now) done += 1;
    if (done === queue.length) {
      this.pending.delete(slug);
      return current;
    }
    if (done > 0) queue.splice(0, done);
    return (queue[0] as Pending).before;
  }

  /** When the last change still pending for `slug` takes effect, or null when none is. */
  pendingUntil(slug: string, now: number): number | null {
    const queue = this.pending.get(slug);
    const last = queue?.[queue.length - 1];
    return last && last.effectiveAt > now ? last.effectiveAt : null;
  }

  /** Forgets every pending change: the state was replaced, and counts as synced. */
  clear(): void {
    this.pending.clear();
  }
}
