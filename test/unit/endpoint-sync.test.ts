import { describe, expect, it } from 'vitest';
import { EndpointSync, type Route } from '../../src/domain/endpoint-sync.js';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const route = (model_id: string, workspaceId = 'ws'): Route => ({
  workspaceId,
  targets: [{ provider: 'BASETEN', model_id, environment_name: 'production', secret_id: null, target_model: null, vertex_config: null, base_url: null }],
});

describe('EndpointSync: inference sees endpoints as of the last sync', () => {
  it('0 s: every change is seen at once and nothing is kept', () => {
    const s = new EndpointSync(0);
    s.changed('a/b', T0, null);
    expect(s.seen('a/b', T0, route('x'))).toEqual(route('x'));
    expect(s.pendingUntil('a/b', T0)).toBeNull();
  });

  it('a create, a re-point and a delete each reach inference syncMs after they are made', () => {
    const s = new EndpointSync(60_000);
    const [v1, v2] = [route('v1'), route('v2')];
    s.changed('a/b', T0, null); // created as v1
    expect(s.seen('a/b', T0, v1)).toBeNull();
    expect(s.seen('a/b', T0 + 59_999, v1)).toBeNull();
    expect(s.pendingUntil('a/b', T0 + 59_999)).toBe(T0 + 60_000);
    expect(s.seen('a/b', T0 + 60_000, v1)).toEqual(v1);
    s.changed('a/b', T0 + 70_000, v1); // re-pointed to v2
    expect(s.seen('a/b', T0 + 129_999, v2)).toEqual(v1);
    expect(s.seen('a/b', T0 + 130_000, v2)).toEqual(v2);
    s.changed('a/b', T0 + 200_000, v2); // deleted
    expect(s.seen('a/b', T0 + 259_999, null)).toEqual(v2);
    expect(s.seen('a/b', T0 + 260_000, null)).toBeNull();
    expect(s.pendingUntil('a/b', T0 + 260_000)).toBeNull();
  });

  it('changes in quick succession take effect one by one, each syncMs after it was made', () => {
    const s = new EndpointSync(60_000);
    const [v1, v2, v3] = [route('v1'), route('v2'), route('v3')];
    s.changed('a/b', T0, null); // create v1
    s.changed('a/b', T0 + 10_000, v1); // v2
    s.changed('a/b', T0 + 20_000, v2); // v3
    expect(s.seen('a/b', T0 + 30_000, v3)).toBeNull();
    expect(s.seen('a/b', T0 + 60_000, v3)).toEqual(v1);
    expect(s.seen('a/b', T0 + 70_000, v3)).toEqual(v2);
    expect(s.seen('a/b', T0 + 80_000, v3)).toEqual(v3);
    // A lookup long after every change skips them all.
    s.changed('c/d', T0, null);
    s.changed('c/d', T0 + 1, route('c1'));
    expect(s.seen('c/d', T0 + 10 * 60_000, null)).toBeNull();
  });

  it('slugs are independent; clear() makes the current state the synced one', () => {
    const s = new EndpointSync(1_000);
    s.changed('a/b', T0, null);
    expect(s.seen('c/d', T0, route('other'))).toEqual(route('other'));
    s.clear();
    expect(s.seen('a/b', T0, route('v1'))).toEqual(route('v1'));
  });

  it('refuses a negative or fractional delay', () => {
    expect(() => new EndpointSync(-1)).toThrow(RangeError);
    expect(() => new EndpointSync(1.5)).toThrow(RangeError);
  });
});
