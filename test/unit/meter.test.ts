import { describe, expect, it } from 'vitest';
import { MS_PER_DAY } from '../../src/domain/clock.js';
import { bucketKey, Meter, type Charge } from '../../src/domain/meter.js';

const T0 = Date.UTC(2026, 4, 13, 12, 0, 0);
const req = (threshold: number, unit: Charge['unit'] = 'MINUTE', bucket = 'b'): Charge => ({ bucket, type: 'REQUEST', unit, threshold, amount: 1 });
const tok = (threshold: number, amount: number, unit: Charge['unit'] = 'MINUTE', bucket = 't'): Charge => ({ bucket, type: 'TOKEN', unit, threshold, amount });

describe('Meter rolling windows', () => {
  it('admits exactly K requests in a window and lets one more in when the oldest leaves it', () => {
    const m = new Meter();
    expect(m.admit(T0, [req(3)]).ok).toBe(true);
    expect(m.admit(T0 + 10_000, [req(3)]).ok).toBe(true);
    expect(m.admit(T0 + 20_000, [req(3)]).ok).toBe(true);
    const refused = m.admit(T0 + 30_000, [req(3)]);
    expect(refused).toMatchObject({ ok: false, retryAfterSeconds: 30 });
    expect(m.admit(T0 + 59_999, [req(3)]).ok).toBe(false);
    expect(m.admit(T0 + 60_000, [req(3)]).ok).toBe(true);
  });

  it('SECOND windows are one second long', () => {
    const m = new Meter();
    expect(m.admit(T0, [req(1, 'SECOND')]).ok).toBe(true);
    expect(m.admit(T0 + 999, [req(1, 'SECOND')])).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    expect(m.admit(T0 + 1000, [req(1, 'SECOND')]).ok).toBe(true);
  });

  it('strict: a TOKEN request that would cross the threshold is refused; usage never exceeds it', () => {
    const m = new Meter('strict');
    expect(m.admit(T0, [tok(100, 70)]).ok).toBe(true);
    expect(m.admit(T0, [tok(100, 31)]).ok).toBe(false);
    expect(m.admit(T0, [tok(100, 30)]).ok).toBe(true);
    expect(m.admit(T0, [tok(100, 1)]).ok).toBe(false);
  });

  it('overshoot: admitted while below the threshold, then refused', () => {
    const m = new Meter('overshoot');
    expect(m.admit(T0, [tok(100, 70)]).ok).toBe(true);
    expect(m.admit(T0, [tok(100, 50)]).ok).toBe(true);
    expect(m.admit(T0, [tok(100, 1)]).ok).toBe(false);
  });

  it('a limit of 0 admits nothing, under either TOKEN policy and even a charge of 0 tokens', () => {
    for (const policy of ['strict', 'overshoot'] as const) {
      const m = new Meter(policy);
      for (const unit of ['SECOND', 'MINUTE', 'DAY'] as const) {
        expect(m.admit(T0, [req(0, unit)]).ok, `${policy} REQUEST/${unit}`).toBe(false);
        expect(m.admit(T0, [tok(0, 5, unit)]).ok, `${policy} TOKEN/${unit}`).toBe(false);
        expect(m.admit(T0, [tok(0, 0, unit)]).ok, `${policy} TOKEN/${unit} of 0 tokens`).toBe(false);
      }
      // Nothing was charged: a limit beside it is untouched.
      expect(m.admit(T0, [req(1, 'MINUTE', 'other'), req(0, 'MINUTE', 'zero')]).ok).toBe(false);
      expect(m.admit(T0, [req(1, 'MINUTE', 'other')]).ok).toBe(true);
    }
    expect(new Meter().admit(T0, [req(0, 'MINUTE')])).toMatchObject({ ok: false, retryAfterSeconds: 60 });
  });

  it('a request bigger than the threshold on its own is refused with a whole-window Retry-After', () => {
    expect(new Meter('strict').admit(T0, [tok(10, 11)])).toMatchObject({ ok: false, retryAfterSeconds: 60 });
  });

  it('charges all limits or none: a refusal by the second leaves the first untouched', () => {
    const m = new Meter();
    expect(m.admit(T0, [req(5, 'MINUTE', 'a'), req(1, 'MINUTE', 'b')]).ok).toBe(true);
    for (let i = 0; i < 10; i++) expect(m.admit(T0, [req(5, 'MINUTE', 'a'), req(1, 'MINUTE', 'b')]).ok).toBe(false);
    // 'a' saw one admitted request only, so four more fit.
    for (let i = 0; i < 4; i++) expect(m.admit(T0, [req(5, 'MINUTE', 'a')]).ok).toBe(true);
    expect(m.admit(T0, [req(5, 'MINUTE', 'a')]).ok).toBe(false);
  });

  it('names the first limit that refused', () => {
    const m = new Meter();
    m.admit(T0, [req(1, 'MINUTE', 'x')]);
    const r = m.admit(T0, [req(10, 'MINUTE', 'y'), req(1, 'MINUTE', 'x')]);
    expect(r.ok === false && r.refused.bucket).toBe('x');
  });
});

describe('Meter daily windows', () => {
  it('count from midnight UTC, reset at the next midnight, and say when', () => {
    const m = new Meter();
    const b = bucketKey('g', 'org/m', 'REQUEST', 'DAY');
    expect(m.dailyUsage(b, T0)).toBeNull();
    m.admit(T0, [req(2, 'DAY', b)]);
    m.admit(T0 + 1000, [req(2, 'DAY', b)]);
    const midnight = Date.UTC(2026, 4, 14);
    expect(m.dailyUsage(b, T0)).toEqual({ used: 2, resetAt: midnight });
    const refused = m.admit(T0 + 2000, [req(2, 'DAY', b)]);
    expect(refused).toMatchObject({ ok: false, retryAfterSeconds: Math.ceil((midnight - T0 - 2000) / 1000) });
    expect(m.admit(midnight - 1, [req(2, 'DAY', b)]).ok).toBe(false);
    expect(m.dailyUsage(b, midnight)).toBeNull();
    expect(m.admit(midnight, [req(2, 'DAY', b)]).ok).toBe(true);
    expect(m.dailyUsage(b, midnight)).toEqual({ used: 1, resetAt: midnight + MS_PER_DAY });
  });

  it('forgets the buckets of deleted groups', () => {
    const m = new Meter();
    const b = bucketKey('gone', 'org/m', 'REQUEST', 'DAY');
    m.admit(T0, [req(1, 'DAY', b)]);
    m.forgetGroups(new Set(['gone']));
    expect(m.dailyUsage(b, T0)).toBeNull();
  });
});
