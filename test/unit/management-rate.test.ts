import { describe, expect, it } from 'vitest';
import { FixedWindowLimiter } from '../../src/domain/management-rate.js';

/** The management API's own rate limit as a pure rule (AMBIGUITIES.md #88). */
describe('FixedWindowLimiter', () => {
  const T = Date.UTC(2030, 0, 1, 12); // a whole second

  it('admits exactly `limit` requests per key per route in one 1-second window, then says how long until it resets', () => {
    const l = new FixedWindowLimiter(100);
    for (let i = 0; i < 100; i++) expect(l.take('k', 'listGroups', T + i)).toEqual({ ok: true });
    expect(l.take('k', 'listGroups', T + 100)).toEqual({ ok: false, retryAfterSeconds: 1, resetAt: T + 1000 });
    expect(l.take('k', 'listGroups', T + 999)).toEqual({ ok: false, retryAfterSeconds: 1, resetAt: T + 1000 });
    // Refused requests are not counted: the next window starts empty.
    expect(l.take('k', 'listGroups', T + 1000)).toEqual({ ok: true });
  });

  it('tracks each route and each key separately', () => {
    const l = new FixedWindowLimiter(2);
    expect(l.take('k', 'a', T).ok && l.take('k', 'a', T).ok).toBe(true);
    expect(l.take('k', 'a', T).ok).toBe(false);
    expect(l.take('k', 'b', T).ok).toBe(true);
    expect(l.take('other', 'a', T).ok).toBe(true);
  });

  it('windows are aligned to the clock: retry_after is whole seconds until the reset, rounded up, at least 1', () => {
    const l = new FixedWindowLimiter(1, 60_000);
    expect(l.take('k', 'a', T + 23_000).ok).toBe(true);
    expect(l.take('k', 'a', T + 23_000)).toEqual({ ok: false, retryAfterSeconds: 37, resetAt: T + 60_000 });
    expect(l.take('k', 'a', T + 59_999)).toEqual({ ok: false, retryAfterSeconds: 1, resetAt: T + 60_000 });
    expect(l.take('k', 'a', T + 60_000).ok).toBe(true);
  });

  it('a clock put back (a snapshot restore) starts a new window; clear() forgets everything', () => {
    const l = new FixedWindowLimiter(1);
    l.take('k', 'a', T + 5000);
    expect(l.take('k', 'a', T).ok).toBe(true);
    expect(l.take('k', 'a', T).ok).toBe(false);
    l.clear();
    expect(l.take('k', 'a', T).ok).toBe(true);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new FixedWindowLimiter(bad)).toThrow(RangeError);
  });
});
