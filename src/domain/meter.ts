import { MS_PER_DAY, utcDayStart } from './clock.js';
import type { Enforcement, LimitType, LimitUnit } from './limits.js';

/**
 * Rate and usage accounting.
 *
 * A bucket is (group, slug, type, unit). SECOND and MINUTE buckets are exact rolling
 * windows: a log of (time, amount) entries, where what counts is the sum of the entries
 * of the last 1 000 or 60 000 ms. DAY buckets count from midnight UTC and start again at
 * the next midnight.
 *
 * `admit` checks every limit of a request and, only when all of them let it through,
 * charges all of them, in one synchronous step. Node runs it to completion before any
 * other request, so N concurrent requests against a REQUEST limit of K admit exactly K.
 */

export const WINDOW_MS: Record<LimitUnit, number> = { SECOND: 1_000, MINUTE: 60_000, DAY: MS_PER_DAY };

/**
 * How a TOKEN limit treats a request that would cross its threshold.
 * - `strict`: refused; a bucket never goes above its threshold.
 * - `overshoot`: admitted while the bucket is below its threshold; the request that
 *   crosses it is charged in full, and the next one is refused.
 */
export type TokenLimitPolicy = 'strict' | 'overshoot';

export interface Charge {
  /** Bucket key: group id, slug, type and unit. */
  bucket: string;
  type: LimitType;
  unit: LimitUnit;
  threshold: number;
  /** Tokens for TOKEN, 1 for REQUEST. */
  amount: number;
}

export type Admission<C extends Charge> =
  | { ok: true }
  | {
      ok: false;
      refused: C;
      /** What the refused limit's bucket held (before this request). */
      used: number;
      /** Ms until the refused limit would let this request through (see waitMs). */
      waitMs: number;
      retryAfterSeconds: number;
    };

/** `Retry-After` for a wait of `ms`: whole seconds, rounded up, at least 1. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export function bucketKey(groupId: string, slug: string, type: LimitType, unit: LimitUnit): string {
  return `${groupId}|${slug}|${type}|${unit}`;
}

/**
 * The bucket a limit of `group` draws on. INDEPENDENT: the group's own (usage is metered
 * per group even for inherited limits). CASCADING: the declaring group's (`source_group`),
 * shared by its whole subtree.
 */
export function bucketOf(group: { id: string; mode: Enforcement }, slug: string, l: { type: LimitType; unit: LimitUnit; source_group: string }): string {
  return bucketKey(group.mode === 'CASCADING' ? l.source_group : group.id, slug, l.type, l.unit);
}

/** The inverse of bucketKey (slugs and group ids contain no `|`). */
export function parseBucketKey(key: string): { groupId: string; slug: string; type: LimitType; unit: LimitUnit } {
  const [groupId = '', slug = '', type, unit] = key.split('|');
  return { groupId, slug, type: type as LimitType, unit: unit as LimitUnit };
}

class RollingWindow {
  private times: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  private total = 0;

  constructor(private readonly windowMs: number) {}

  used(now: number): number {
    this.prune(now);
    return this.total;
  }

  add(now: number, amount: number): void {
    const last = this.times.length - 1;
    if (last >= this.head && this.times[last] === now) this.amounts[last] = (this.amounts[last] as number) + amount;
    else {
      this.times.push(now);
      this.amounts.push(amount);
    }
    this.total += amount;
  }

  /** The amount of the newest entry when it is at `time`, else 0. */
  amountAt(time: number): number {
    const last = this.times.length - 1;
    return last >= this.head && this.times[last] === time ? (this.amounts[last] as number) : 0;
  }

  /** The live entries, oldest first, as [time, amount] pairs. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.head; i < this.times.length; i++) out.push([this.times[i] as number, this.amounts[i] as number]);
    return out;
  }

  /** Ms until enough of the window has expired for `amount` more to fit under `threshold`. */
  msUntilFits(now: number, amount: number, threshold: number): number {
    this.prune(now);
    let remaining = this.total;
    for (let i = this.head; i < this.times.length; i++) {
      remaining -= this.amounts[i] as number;
      if (remaining + amount <= threshold) return (this.times[i] as number) + this.windowMs - now;
    }
    return this.windowMs;
  }

  private prune(now: number): void {
    const cutoff = now - this.windowMs;
    while (this.head < this.times.length && (this.times[this.head] as number) <= cutoff) {
      this.total -= this.amounts[this.head] as number;
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.amounts = this.amounts.slice(this.head);
      this.head = 0;
    }
  }
}

interface DailyCounter {
  dayStart: number;
  used: number;
}

export interface DailyUsage {
  used: number;
  resetAt: number;
}

/** The meter's counters as plain data, for the store's snapshot. */
export interface MeterSnapshot {
  /** SECOND and MINUTE buckets: every entry still in its window, as [time ms, amount]. */
  rolling: { bucket: string; entries: [number, number][] }[];
  /** DAY buckets: the UTC day they count and what they counted. */
  daily: { bucket: string; day_start: number; used: number }[];
}

export class Meter {
  private rolling = new Map<string, RollingWindow>();
  private daily = new Map<string, DailyCounter>();
  private changes = 0;
  /** Told every admitted charge (the store's change sink); null, the default, costs a null check. */
  onAdmit: ((now: number, charges: readonly Charge[]) => void) | null = null;

  constructor(private readonly tokenPolicy: TokenLimitPolicy = 'strict') {}

  /** Checks all `charges` in order; charges every one of them only if none is refused. */
  admit<C extends Charge>(now: number, charges: readonly C[]): Admission<C> {
    for (const c of charges) {
      const used = this.used(c, now);
      // A limit of 0 admits nothing, whatever the request's size (even a TOKEN charge of 0).
      const refuse =
        c.threshold === 0 ||
        (c.type === 'TOKEN' && this.tokenPolicy === 'overshoot' ? used >= c.threshold : used + c.amount > c.threshold);
      if (refuse) {
        const waitMs = this.waitMs(c, now);
        return { ok: false, refused: c, used, waitMs, retryAfterSeconds: retryAfterSeconds(waitMs) };
      }
    }
    for (const c of charges) this.charge(c, now);
    this.changes += 1;
    if (this.onAdmit !== null) this.onAdmit(now, charges);
    return { ok: true };
  }

  /** Bumped by every change of the counters (see Store.revision). */
  get revision(): number {
    return this.changes;
  }

  /** The DAY counter of a bucket in the current window, or null when nothing landed in it yet. */
  dailyUsage(bucket: string, now: number): DailyUsage | null {
    const counter = this.daily.get(bucket);
    if (!counter || counter.dayStart !== utcDayStart(now)) return null;
    return { used: counter.used, resetAt: counter.dayStart + MS_PER_DAY };
  }

  /** What a bucket has counted in its current window (rolling or daily), for the inspector's bars; 0 when nothing. */
  currentUse(bucket: string, now: number): number {
    if (parseBucketKey(bucket).unit === 'DAY') return this.dailyUsage(bucket, now)?.used ?? 0;
    return this.rolling.get(bucket)?.used(now) ?? 0;
  }

  /** Every DAY counter with traffic in the current window, for /_mock/state. */
  dailySnapshot(now: number): (ReturnType<typeof parseBucketKey> & { used: number; resetAt: number })[] {
    const today = utcDayStart(now);
    return [...this.daily]
      .filter(([, c]) => c.dayStart === today)
      .map(([bucket, c]) => ({ ...parseBucketKey(bucket), used: c.used, resetAt: c.dayStart + MS_PER_DAY }));
  }

  reset(): void {
    this.rolling.clear();
    this.daily.clear();
    this.changes += 1;
  }

  /** Every counter that still counts at `now` (expired entries and past days are left out). */
  snapshot(now: number): MeterSnapshot {
    const today = utcDayStart(now);
    return {
      rolling: [...this.rolling]
        .map(([bucket, w]) => {
          w.used(now);
          return { bucket, entries: w.entries() };
        })
        .filter((r) => r.entries.length > 0),
      daily: [...this.daily].filter(([, c]) => c.dayStart === today).map(([bucket, c]) => ({ bucket, day_start: c.dayStart, used: c.used })),
    };
  }

  /**
   * What a bucket holds at `now` after a charge there, as an absolute value: the DAY
   * counter's total, or the amount of the rolling window's entry at `now` (a redo log
   * records these, so replaying a record twice changes nothing).
   */
  chargedAt(bucket: string, unit: LimitUnit, now: number): number {
    if (unit === 'DAY') return this.daily.get(bucket)?.used ?? 0;
    return this.rolling.get(bucket)?.amountAt(now) ?? 0;
  }

  /**
   * The counters of snapshot(now), one bucket at a time, walking the live maps (a state
   * file's background snapshot takes them a slice at a time), without changing them.
   */
  *buckets(now: number): Generator<{ rolling: MeterSnapshot['rolling'][number] } | { daily: MeterSnapshot['daily'][number] }> {
    for (const [bucket, w] of this.rolling) {
      // Read only: `now` may be behind the clock by the time this runs (a reset moves it back), so nothing is pruned here.
      const cutoff = now - WINDOW_MS[parseBucketKey(bucket).unit];
      const entries = w.entries().filter(([t]) => t > cutoff);
      if (entries.length > 0) yield { rolling: { bucket, entries } };
    }
    const today = utcDayStart(now);
    for (const [bucket, c] of this.daily) if (c.dayStart === today) yield { daily: { bucket, day_start: c.dayStart, used: c.used } };
  }

  /** Replaces every counter with those of `s` (already checked by the caller). */
  restore(s: MeterSnapshot): void {
    this.reset();
    for (const r of s.rolling) {
      const w = new RollingWindow(WINDOW_MS[parseBucketKey(r.bucket).unit]);
      for (const [t, amount] of r.entries) w.add(t, amount);
      this.rolling.set(r.bucket, w);
    }
    for (const d of s.daily) this.daily.set(d.bucket, { dayStart: d.day_start, used: d.used });
  }

  /** Forgets the buckets of groups that no longer exist. */
  forgetGroups(ids: ReadonlySet<string>): void {
    for (const map of [this.rolling, this.daily]) {
      for (const key of map.keys()) if (ids.has(parseBucketKey(key).groupId)) map.delete(key);
    }
    this.changes += 1;
  }

  private used(c: Charge, now: number): number {
    if (c.unit === 'DAY') return this.dailyUsage(c.bucket, now)?.used ?? 0;
    return this.rolling.get(c.bucket)?.used(now) ?? 0;
  }

  private charge(c: Charge, now: number): void {
    if (c.unit === 'DAY') {
      const today = utcDayStart(now);
      const counter = this.daily.get(c.bucket);
      if (counter && counter.dayStart === today) counter.used += c.amount;
      else this.daily.set(c.bucket, { dayStart: today, used: c.amount });
      return;
    }
    let w = this.rolling.get(c.bucket);
    if (!w) {
      w = new RollingWindow(WINDOW_MS[c.unit]);
      this.rolling.set(c.bucket, w);
    }
    w.add(now, c.amount);
  }

  /**
   * Ms until the refused limit would let this request through: the rest of the UTC day
   * for DAY limits; for rolling windows, until enough old traffic has left the window
   * (the whole window when the request alone is bigger than the threshold). Retry-After
   * is this in whole seconds, rounded up, at least 1.
   */
  private waitMs(c: Charge, now: number): number {
    return c.unit === 'DAY'
      ? utcDayStart(now) + MS_PER_DAY - now
      : (this.rolling.get(c.bucket)?.msUntilFits(now, this.tokenPolicy === 'overshoot' && c.type === 'TOKEN' ? 1 : c.amount, c.threshold) ??
          WINDOW_MS[c.unit]);
  }
}
