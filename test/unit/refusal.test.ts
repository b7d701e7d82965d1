import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { MANAGEMENT_RATE_LIMIT_CODE, MANAGEMENT_RATE_LIMIT_MESSAGE } from '../../src/domain/errors.js';
import { Meter } from '../../src/domain/meter.js';
import { LimitRefused, managementRateLimited, refusalTiming } from '../../src/domain/refusal.js';
import { Gateway } from '../../src/service/gateway.js';
import { Store } from '../../src/store/store.js';

/** Which limit refused a request (src/domain/refusal.ts), made where the check knows it; AMBIGUITIES.md #118. */

const T0 = Date.UTC(2026, 4, 13, 12, 0, 0);

describe('the refusal behind a 429', () => {
  it('the meter says what the refused bucket held and how long until the request fits', () => {
    const m = new Meter();
    const c = { bucket: 'b', type: 'TOKEN' as const, unit: 'MINUTE' as const, threshold: 10, amount: 6 };
    expect(m.admit(T0, [c]).ok).toBe(true);
    expect(m.admit(T0 + 20_000, [{ ...c, amount: 3 }]).ok).toBe(true);
    // 9 held; 6 more fit once the first 6 leave the window, 40 s from now.
    expect(m.admit(T0 + 20_000, [c])).toEqual({ ok: false, refused: c, used: 9, waitMs: 40_000, retryAfterSeconds: 40 });
    // A DAY limit waits until midnight UTC.
    const day = { bucket: 'd', type: 'REQUEST' as const, unit: 'DAY' as const, threshold: 0, amount: 1 };
    expect(m.admit(T0, [day])).toMatchObject({ ok: false, used: 0, waitMs: 12 * 3600_000, retryAfterSeconds: 12 * 3600 });
  });

  it('refusalTiming: Retry-After in whole seconds rounded up (at least 1), the instant to the millisecond', () => {
    expect(refusalTiming(T0, 1500)).toEqual({ retry_after: 2, reset_at: '2026-05-13T12:00:01.500Z' });
    expect(refusalTiming(T0, 0)).toEqual({ retry_after: 1, reset_at: '2026-05-13T12:00:00.000Z' });
    expect(refusalTiming(T0, -5)).toEqual({ retry_after: 1, reset_at: '2026-05-13T12:00:00.000Z' });
  });

  it('admission names the limit: a CASCADING ancestor’s TOKEN/DAY, with the slug, the bucket and the request', () => {
    const clock = new ManualClock(T0);
    const workspaces = [{ id: 'ws', onboarded: true, webhookUrl: null, webhookSecret: 's', orgPrefixes: ['ws'], environments: ['production'], registerPublicKey: null }];
    const gw = new Gateway(new Store({ seed: () => ({ workspaces, managementKeys: [] }), baseClock: clock }));
    const root = gw.groups.create('ws', { metadata: { external_entity_id: 'root' }, models: [{ slug: 'a/b', usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 100 }] }], hierarchy: { limit_enforcement: 'CASCADING' } });
    const child = gw.groups.create('ws', { metadata: { external_entity_id: 'child' }, models: [{ slug: 'a/b' }], hierarchy: { parent_group_id: root.id } });
    gw.usage.admit(gw.store.group(child.id)!, 'a/b', 70);
    let caught: unknown;
    try {
      gw.usage.admit(gw.store.group(child.id)!, 'a/b', 31);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(LimitRefused);
    const e = caught as LimitRefused;
    expect([e.kind, e.code, e.retryAfter]).toEqual(['rate_limited', 'usage_limit_exceeded', 12 * 3600]);
    expect(e.message).toBe(`Usage limit exceeded: TOKEN per DAY threshold 100 of group ${root.id} for a/b.`);
    expect(e.refusal).toEqual({
      limit: 'usage',
      type: 'TOKEN',
      unit: 'DAY',
      threshold: 100,
      source_group: root.id,
      model: 'a/b',
      operation: null,
      used: 70,
      requested: 31,
      retry_after: 12 * 3600,
      reset_at: '2026-05-14T00:00:00.000Z',
    });
  });

  it("the management API's own limit: the documented message and code, REQUEST per SECOND on the operation", () => {
    const e = managementRateLimited('listGroups', 100, 1000, T0 + 250, T0 + 1000);
    expect([e.kind, e.message, e.code, e.retryAfter]).toEqual(['rate_limited', MANAGEMENT_RATE_LIMIT_MESSAGE, MANAGEMENT_RATE_LIMIT_CODE, 1]);
    expect(e.refusal).toEqual({
      limit: 'management',
      type: 'REQUEST',
      unit: 'SECOND',
      threshold: 100,
      source_group: null,
      model: null,
      operation: 'listGroups',
      used: 100,
      requested: 1,
      retry_after: 1,
      reset_at: '2026-05-13T12:00:01.000Z',
    });
    expect(managementRateLimited('a', 1, 60_000, T0, T0 + 60_000).refusal).toMatchObject({ unit: 'MINUTE', retry_after: 60 });
  });
});
