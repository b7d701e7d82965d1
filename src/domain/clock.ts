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
    assertInstant(this.ms + ms);
    this.ms += ms;
  }
  set(ms: number): void {
    assertInstant(ms);
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
  private moves = 0;
  /** Told every move by advance() or setNow() (the store's change sink); null by default. */
  onMove: (() => void) | null = null;
  constructor(private readonly base: Clock = systemClock) {}
  /** Time flows on from wherever the clock was moved, and stops at MAX_INSTANT_MS (the end of year 9999). */
  now(): number {
    const t = this.base.now() + this.offsetMs;
    return t < MAX_INSTANT_MS ? t : MAX_INSTANT_MS;
  }
  get offset(): number {
    return this.offsetMs;
  }
  /** Counts the moves, so the store can tell that its state changed (see Store.revision). */
  get revision(): number {
    return this.moves;
  }
  advance(ms: number): void {
    if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError('advance must be positive and finite');
    assertWholeMs(ms, 'advance');
    assertInstant(this.now() + ms);
    this.offsetMs += ms;
    this.moves += 1;
    if (this.onMove !== null) this.onMove();
  }
  /** Jump to `ms`; refuses a time before now, and anything that is not a representable instant. */
  setNow(ms: number): void {
    assertInstant(ms);
    const delta = ms - this.now();
    if (delta < 0) throw new RangeError('the mock clock only moves forward');
    this.offsetMs += delta;
    this.moves += 1;
    if (this.onMove !== null) this.onMove();
  }
  reset(): void {
    this.offsetMs = 0;
    this.moves += 1;
  }
  /**
   * Puts the clock back at `ms` (a snapshot's instant), even if that is earlier than now:
   * only for restoring a snapshot, whose counters come back with it.
   */
  restoreTo(ms: number): void {
    assertInstant(ms);
    this.restoreOffset(ms - this.base.now());
  }
  /**
   * Puts back a saved offset as it was (a state file: time that passed while the mock was
   * stopped counts). Set directly, not through now(), which would read the base clock twice.
   */
  restoreOffset(offsetMs: number): void {
    assertWholeMs(offsetMs, 'offset');
    // Real time may have flowed past the end since the offset was saved: now() stops there.
    assertInstant(Math.min(this.base.now() + offsetMs, MAX_INSTANT_MS));
    this.offsetMs = offsetMs;
    this.moves += 1;
  }
}

/**
 * The last instant the clock may reach: 9999-12-31T23:59:59.999Z, the end of what RFC 3339
 * (and so every timestamp the API writes, and the snapshot format) can express. A later
 * one, though a Date could hold it, would be written as `+010000-...` and could not be
 * snapshotted, restored or saved to a state file.
 */
export const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A NaN or out-of-range time would poison every later timestamp (rfc3339 throws on it),
 * and a fraction of a millisecond every record and snapshot that holds it (instants are
 * whole milliseconds everywhere: Date.now(), the snapshot format, the counters), so the
 * clock refuses one at the door whatever the caller parsed it from.
 */
export function assertInstant(ms: number): void {
  if (!isInstant(ms)) throw new InvalidInstantError(`not a representable instant (a whole number of milliseconds from 1970 to 9999-12-31T23:59:59.999Z): ${ms}`);
}

/** Whether `ms` is an instant the clock can hold: a whole millisecond from 1970 to the end of year 9999. */
export function isInstant(ms: number): boolean {
  return Number.isInteger(ms) && ms >= 0 && ms <= MAX_INSTANT_MS;
}

function assertWholeMs(ms: number, what: string): void {
  if (!Number.isInteger(ms)) throw new InvalidInstantError(`the clock moves in whole milliseconds; ${what} ${ms} is not one`);
}

/**
 * `seconds` as whole milliseconds, or undefined when it is not a whole number of them
 * (0.0005). Decimal seconds with up to three places are whole milliseconds even where
 * binary floating point misses them by a rounding error (1.005 * 1000 = 1004.9999999999999).
 */
export function wholeMillisecondsOf(seconds: number): number | undefined {
  const ms = seconds * 1000;
  const whole = Math.round(ms);
  return Math.abs(ms - whole) <= 1e-6 * Math.max(1, Math.abs(ms)) ? whole : undefined;
}

/** Thrown by the clock for a time that is not a finite, representable instant. */
export class InvalidInstantError extends TypeError {
  override name = 'InvalidInstantError';
}

/**
 * The last second stamped, kept by both formatters below: views, journal entries and
 * billing events stamp one instant each, and runs of them fall in the same second (a
 * create and its answer, a page of groups made together, requests arriving together).
 * A memo of Date's toISOString: an instant is truncated to a whole millisecond first, as
 * Date does; one that is not an instant is never kept, and Date throws on it as before.
 */
const last = { second: NaN, prefix: '', stamp: '' };

/** Date's toISOString of `t` (a whole ms), remembering its second when it has the common YYYY-MM-DDTHH:mm:ss.sssZ form. */
function isoOf(t: number, second: number): string {
  const iso = new Date(t).toISOString();
  if (iso.length === 24) {
    last.second = second;
    last.prefix = iso.slice(0, 19);
    last.stamp = `${last.prefix}Z`;
  }
  return iso;
}

/** RFC 3339 UTC at second precision, the form the documentation's examples use. */
export function rfc3339(ms: number): string {
  const t = Math.trunc(ms);
  const second = Math.floor(t / 1000);
  if (second === last.second) return last.stamp;
  const iso = isoOf(t, second);
  // Drop the milliseconds; a year beyond 9999 has a longer form.
  return iso.length === 24 ? last.stamp : iso.replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 UTC with milliseconds (Date's toISOString), for billing events, the journal and JSON logs. */
export function rfc3339Millis(ms: number): string {
  const t = Math.trunc(ms);
  const second = Math.floor(t / 1000);
  if (second !== last.second) return isoOf(t, second);
  const milli = t - second * 1000;
  return `${last.prefix}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

export const MS_PER_DAY = 86_400_000;

/** Start of the UTC day containing `ms`. Daily windows reset at midnight UTC. */
export function utcDayStart(ms: number): number {
  return Math.floor(ms / MS_PER_DAY) * MS_PER_DAY;
}
