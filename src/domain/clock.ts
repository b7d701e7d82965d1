/**
 * Time for the whole mock comes from a Clock, never from Date.now() elsewhere, so a
 * test (or a user through POST /_mock/clock) can cross a minute or midnight UTC at once.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The machine's clock. The only place in the project that reads Date.now(). */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: the one unit tests use. */
export class ManualClock implements Clock {
  constructor(private ms: number = Date.UTC(2026, 4, 13, 12, 0, 0)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

/**
 * The mock server's clock: a base clock plus an offset that only grows, so time keeps
 * flowing at real speed from wherever it was moved to. It never moves backwards,
 * because rolling windows and daily counters would then count traffic from the future.
 */
export class OffsetClock implements Clock {
  private offsetMs = 0;
  constructor(private readonly base: Clock = systemClock) {}
  now(): number {
    return this.base.now() + this.offsetMs;
  }
  get offset(): number {
    return this.offsetMs;
  }
  advance(ms: number): void {
    if (!(ms > 0)) throw new RangeError('advance must be positive');
    this.offsetMs += ms;
  }
  /** Jump to `ms`; refuses a time before now. */
  setNow(ms: number): void {
    const delta = ms - this.now();
    if (delta < 0) throw new RangeError('the mock clock only moves forward');
    this.offsetMs += delta;
  }
  reset(): void {
    this.offsetMs = 0;
  }
  /**
   * Puts the clock back at `ms` (a snapshot's instant), even if that is earlier than now:
   * only for restoring a snapshot, whose counters come back with it.
   */
  restoreTo(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError('the clock needs a finite instant');
    this.offsetMs = ms - this.base.now();
  }
}

/** RFC 3339 UTC at second precision, the form the documentation's examples use. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const MS_PER_DAY = 86_400_000;

/** Start of the UTC day containing `ms`. Daily windows reset at midnight UTC. */
export function utcDayStart(ms: number): number {
  return Math.floor(ms / MS_PER_DAY) * MS_PER_DAY;
}
