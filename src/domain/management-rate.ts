/**
 * The management API's own rate limit (facts file, "Management API rate limit"): per API
 * key and per route (each route tracked separately), at most `limit` requests in a fixed
 * window of `windowMs` (1 s on the service: 100 requests per second). A refused request
 * is told how long until the current window resets: whole seconds, rounded up, at least 1
 * (the documented `retry_after`). Refused requests are not counted.
 *
 * Windows are aligned to multiples of `windowMs` of the clock it is given (the mock's
 * clock, so moving it forward empties them), and pure: the caller passes `now`.
 */

import { retryAfterSeconds } from './meter.js';

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number; /** When the full window ends (ms). */ resetAt: number };

const ADMIT: RateDecision = { ok: true };

/** Windows kept before ended ones are swept (keys x routes is small; this bounds a pathological run). */
const SWEEP_AT = 10_000;

export class FixedWindowLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs = 1_000,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the management rate limit must be an integer >= 1, not ${limit}`);
    if (!Number.isInteger(windowMs) || windowMs < 1) throw new RangeError(`the window must be a whole number of ms >= 1, not ${windowMs}`);
  }

  /** Counts one request of `key` on `route` at `now` (ms), or refuses it. */
  take(key: string, route: string, now: number): RateDecision {
    const start = now - (((now % this.windowMs) + this.windowMs) % this.windowMs);
    const id = `${route}\u0000${key}`;
    const w = this.windows.get(id);
    if (!w || w.start !== start) {
      if (!w && this.windows.size >= SWEEP_AT) this.sweep(start);
      this.windows.set(id, { start, count: 1 });
      return ADMIT;
    }
    if (w.count < this.limit) {
      w.count += 1;
      return ADMIT;
    }
    const resetAt = start + this.windowMs;
    return { ok: false, retryAfterSeconds: retryAfterSeconds(resetAt - now), resetAt };
  }

  /** Forgets every window (a reset of the mock). */
  clear(): void {
    this.windows.clear();
  }

  private sweep(current: number): void {
    for (const [id, w] of this.windows) if (w.start !== current) this.windows.delete(id);
  }
}
