import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { Gateway } from '../../src/service/gateway.js';
import { bucketKey, Meter } from '../../src/domain/meter.js';
import { Store } from '../../src/store/store.js';

/** What the inspector's bars read: a bucket's current use, rolling windows included. */

describe('Meter.currentUse', () => {
  it('reads rolling windows as they slide and daily counters until midnight UTC', () => {
    const meter = new Meter();
    const t = Date.UTC(2026, 4, 13, 23, 59, 0);
    const minute = bucketKey('g', 'a/b', 'REQUEST', 'MINUTE');
    const day = bucketKey('g', 'a/b', 'TOKEN', 'DAY');
    meter.admit(t, [
      { bucket: minute, type: 'REQUEST', unit: 'MINUTE', threshold: 10, amount: 1 },
      { bucket: day, type: 'TOKEN', unit: 'DAY', threshold: 1000, amount: 42 },
    ]);
    expect([meter.currentUse(minute, t + 30_000), meter.currentUse(day, t + 30_000)]).toEqual([1, 42]);
    expect([meter.currentUse(minute, t + 60_000), meter.currentUse(day, t + 60_000)]).toEqual([0, 0]);
    expect(meter.currentUse(bucketKey('none', 'a/b', 'REQUEST', 'SECOND'), t)).toBe(0);
  });
});

describe('Gateway.liveUsage', () => {
  it('lists every effective limit with its source group and the shared CASCADING bucket it draws on', () => {
    const clock = new ManualClock(Date.UTC(2026, 4, 13, 12, 0, 0));
    const gw = new Gateway(new Store({ seed: () => ({ workspaces: [{ id: 'ws', onboarded: true, webhookUrl: null, webhookSecret: 's', orgPrefixes: ['ws'], environments: ['production'], registerPublicKey: null }], managementKeys: [] }), baseClock: clock }));
    const root = gw.groups.create('ws', {
      metadata: { external_entity_id: 'root' },
      models: [{ slug: 'a/b', rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 60 }], usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 10 }] }],
      hierarchy: { limit_enforcement: 'CASCADING' },
    });
    const a = gw.groups.create('ws', { metadata: { external_entity_id: 'a' }, models: [{ slug: 'a/b' }], hierarchy: { parent_group_id: root.id } });
    const b = gw.groups.create('ws', { metadata: { external_entity_id: 'b' }, models: [{ slug: 'a/b' }], hierarchy: { parent_group_id: root.id } });
    gw.usage.admit(gw.store.group(a.id)!, 'a/b', 5);
    const seen = (id: string) => gw.usage.liveUsage(gw.store.group(id)!).map((u) => [u.kind, u.unit, u.threshold, u.source_group, u.used]);
    // b never called, yet its bars show the pool it shares with a.
    expect(seen(b.id)).toEqual([
      ['rate', 'MINUTE', 60, root.id, 1],
      ['usage', 'DAY', 10, root.id, 1],
    ]);
    expect(gw.usage.liveUsage(gw.store.group(a.id)!)[1]?.reset_at).toBe('2026-05-14T00:00:00Z');
    clock.advance(61_000);
    expect(seen(root.id).map((r) => r[4])).toEqual([0, 1]);
  });
});
