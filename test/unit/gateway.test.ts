import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { GatewayError } from '../../src/domain/errors.js';
import type { CreateGroupInput } from '../../src/domain/groups.js';
import { Gateway } from '../../src/service/gateway.js';
import { Store } from '../../src/store/store.js';

const S = 'org/model';
const WS = 'ws';
let clock: ManualClock;
let gw: Gateway;

beforeEach(() => {
  clock = new ManualClock(Date.UTC(2026, 4, 13, 12, 0, 0));
  const workspaces = [WS, 'other'].map((id) => ({ id, onboarded: true, webhookUrl: null, webhookSecret: 's', orgPrefixes: [id], environments: ['production'], registerPublicKey: null }));
  gw = new Gateway(new Store({ seed: () => ({ workspaces, managementKeys: [] }), baseClock: clock }));
});

let n = 0;
const create = (over: Partial<CreateGroupInput> & { tpm?: number; rpm?: number; tpd?: number } = {}, ws = WS) => {
  const rate = [...(over.tpm ? [{ type: 'TOKEN' as const, unit: 'MINUTE' as const, threshold: over.tpm }] : []), ...(over.rpm ? [{ type: 'REQUEST' as const, unit: 'MINUTE' as const, threshold: over.rpm }] : [])];
  const usage = over.tpd ? [{ type: 'TOKEN' as const, unit: 'DAY' as const, threshold: over.tpd }] : [];
  return gw.groups.create(ws, {
    metadata: over.metadata ?? { external_entity_id: `ext-${++n}` },
    models: over.models ?? [{ slug: S, rate_limits: rate, usage_limits: usage }],
    hierarchy: over.hierarchy ?? {},
  });
};
const fails = (fn: () => unknown, kind: GatewayError['kind'], code?: string) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    expect((e as GatewayError).kind).toBe(kind);
    if (code) expect((e as GatewayError).code).toBe(code);
    return e as GatewayError;
  }
  throw new Error('expected an error');
};
const spend = (groupId: string, tokens: number) => gw.usage.admit(gw.store.group(groupId)!, S, tokens);

describe('Gateway: the worked examples, enforced', () => {
  it('CASCADING org/finance/engineering (scaled to 100/70/70 tokens): engineering is refused after 30', () => {
    const org = create({ tpm: 100, hierarchy: { limit_enforcement: 'CASCADING' } });
    const finance = create({ tpm: 70, hierarchy: { parent_group_id: org.id } });
    const engineering = create({ tpm: 70, hierarchy: { parent_group_id: org.id } });
    spend(finance.id, 70);
    spend(engineering.id, 20);
    spend(engineering.id, 10);
    const err = fails(() => spend(engineering.id, 1), 'rate_limited', 'rate_limit_exceeded');
    expect(err.message).toContain(org.id);
    expect(err.retryAfter).toBe(60);
    clock.advance(60_000);
    spend(engineering.id, 40);
  });

  it('INDEPENDENT free-tier/john/sally (scaled): each is metered on its own bucket at its effective threshold', () => {
    const freeTier = create({ tpm: 100 });
    const john = create({ hierarchy: { parent_group_id: freeTier.id } });
    const sally = create({ tpm: 120, hierarchy: { parent_group_id: freeTier.id } });
    spend(freeTier.id, 100);
    spend(john.id, 100);
    fails(() => spend(john.id, 1), 'rate_limited');
    spend(sally.id, 120);
    fails(() => spend(sally.id, 1), 'rate_limited');
    gw.groups.update(WS, freeTier.id, { models: [{ slug: S, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 150 }] }] });
    spend(john.id, 50);
    fails(() => spend(john.id, 1), 'rate_limited');
  });
});

describe('Gateway: groups', () => {
  it('refuses a duplicate external id in the workspace but not in another one', () => {
    create({ metadata: { external_entity_id: 'same' } });
    fails(() => create({ metadata: { external_entity_id: 'same' } }), 'invalid_request', 'duplicate_external_entity_id');
    expect(create({ metadata: { external_entity_id: 'same' } }, 'other').metadata.external_entity_id).toBe('same');
  });

  it('hierarchy: parent 404 (also across workspaces), mode mismatch 400, five levels at most', () => {
    fails(() => create({ hierarchy: { parent_group_id: 'missing' } }), 'not_found', 'parent_not_found');
    const foreign = create({}, 'other');
    fails(() => create({ hierarchy: { parent_group_id: foreign.id } }), 'not_found');
    const root = create({ hierarchy: { limit_enforcement: 'CASCADING' } });
    fails(() => create({ hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: root.id } }), 'invalid_request', 'enforcement_mismatch');
    let parent = root;
    for (let level = 2; level <= 5; level++) parent = create({ hierarchy: { parent_group_id: parent.id } });
    expect(parent.hierarchy.limit_enforcement).toBe('CASCADING');
    fails(() => create({ hierarchy: { parent_group_id: parent.id } }), 'invalid_request', 'hierarchy_too_deep');
  });

  it('another workspace’s group is 403, a missing one 404', () => {
    const g = create({}, 'other');
    fails(() => gw.groups.get(WS, g.id), 'forbidden');
    fails(() => gw.groups.get(WS, 'nope'), 'not_found');
  });

  it('update: empty, immutable fields, same values accepted', () => {
    const g = create({ rpm: 5 });
    fails(() => gw.groups.update(WS, g.id, {}), 'invalid_request', 'empty_update');
    fails(() => gw.groups.update(WS, g.id, { metadata: {} }), 'invalid_request', 'empty_update');
    fails(() => gw.groups.update(WS, g.id, { metadata: { name: 'x', external_entity_id: 'other' } }), 'invalid_request', 'immutable_field');
    fails(() => gw.groups.update(WS, g.id, { metadata: { name: 'x' }, hierarchy: { limit_enforcement: 'CASCADING' } }), 'invalid_request', 'immutable_field');
    fails(() => gw.groups.update(WS, g.id, { metadata: { name: 'x' }, hierarchy: { parent_group_id: 'p' } }), 'invalid_request', 'immutable_field');
    const same = gw.groups.update(WS, g.id, { metadata: { name: 'x', external_entity_id: g.metadata.external_entity_id }, hierarchy: { ...g.hierarchy } });
    expect(same.metadata.name).toBe('x');
    expect(same.models).toEqual(g.models);
  });

  it('update: metadata null and models null mean "not given"; a PATCH only changing an immutable field hears that rule', () => {
    const g = create({ rpm: 5 });
    fails(() => gw.groups.update(WS, g.id, { metadata: null, models: null }), 'invalid_request', 'empty_update');
    const renamed = gw.groups.update(WS, g.id, { metadata: { name: 'n' }, models: null });
    expect(renamed.models).toEqual(g.models);
    const remodelled = gw.groups.update(WS, g.id, { metadata: null, models: [{ slug: 'org/other' }] });
    expect(remodelled.metadata.name).toBe('n');
    expect(remodelled.models.map((m) => m.slug)).toEqual(['org/other']);
    fails(() => gw.groups.update(WS, g.id, { metadata: { external_entity_id: 'changed' } }), 'invalid_request', 'immutable_field');
    fails(() => gw.groups.update(WS, g.id, { hierarchy: { limit_enforcement: 'CASCADING' } }), 'invalid_request', 'immutable_field');
    // The same values only: nothing to change, and the message says what cannot be.
    try {
      gw.groups.update(WS, g.id, { hierarchy: { limit_enforcement: null, parent_group_id: null } });
      expect.unreachable();
    } catch (e) {
      expect((e as GatewayError).code).toBe('empty_update');
      expect((e as GatewayError).message).toMatch(/external_entity_id and hierarchy cannot be changed/);
    }
  });

  it('create: hierarchy fields null mean "inherit, or INDEPENDENT at a root" and "a root"', () => {
    const root = create({ hierarchy: { limit_enforcement: null, parent_group_id: null } });
    expect(root.hierarchy).toEqual({ limit_enforcement: 'INDEPENDENT', parent_group_id: null });
    const cascading = create({ hierarchy: { limit_enforcement: 'CASCADING' } });
    const child = create({ hierarchy: { limit_enforcement: null, parent_group_id: cascading.id } });
    expect(child.hierarchy).toEqual({ limit_enforcement: 'CASCADING', parent_group_id: cascading.id });
  });

  it('delete removes the subtree, revokes its keys, frees external ids and forgets counters', () => {
    const root = create({ tpd: 100 });
    const child = create({ hierarchy: { parent_group_id: root.id } });
    const grandchild = create({ hierarchy: { parent_group_id: child.id } });
    const key = gw.keys.mint(WS, grandchild.id, 'k');
    spend(root.id, 10);
    gw.groups.delete(WS, root.id);
    for (const g of [root, child, grandchild]) fails(() => gw.groups.get(WS, g.id), 'not_found');
    fails(() => gw.access.federatedCaller(key.api_key), 'unauthorized');
    expect(gw.store.allKeys()).toHaveLength(0);
    expect(gw.groups.list(WS, { limit: 100 }).items).toEqual([]);
    const again = create({ metadata: { external_entity_id: child.metadata.external_entity_id }, tpd: 100 });
    expect(gw.usage.groupUsage(WS, again.id).usage[S]?.[0]?.current_usage).toBeNull();
  });

  it('effective models of descendants follow an ancestor’s update at once', () => {
    const root = create({ rpm: 10 });
    const child = create({ hierarchy: { parent_group_id: root.id } });
    gw.groups.update(WS, root.id, { models: [{ slug: S, rate_limits: [{ type: 'REQUEST', unit: 'MINUTE', threshold: 3 }] }] });
    expect(gw.groups.get(WS, child.id).effective_models[0]?.rate_limits).toEqual([{ type: 'REQUEST', unit: 'MINUTE', threshold: 3, source_group: root.id }]);
  });
});

describe('Gateway: keys and inference admission', () => {
  it('only a live key of a live group authenticates; revocation is final', () => {
    const g = create();
    const k = gw.keys.mint(WS, g.id, undefined);
    expect(k.name).toBeNull();
    expect(gw.access.federatedCaller(k.api_key).group.id).toBe(g.id);
    fails(() => gw.access.federatedCaller(`${k.prefix}.wrongsecret`), 'unauthorized');
    gw.keys.revoke(WS, g.id, k.prefix);
    fails(() => gw.access.federatedCaller(k.api_key), 'unauthorized');
    fails(() => gw.keys.get(WS, g.id, k.prefix), 'not_found');
    // Documented: revoking an already revoked key is 404 too.
    fails(() => gw.keys.revoke(WS, g.id, k.prefix), 'not_found');
  });

  it('a slug outside the group is 404; cleared models remove access', () => {
    const g = create();
    fails(() => gw.usage.admit(gw.store.group(g.id)!, 'org/other', 1), 'not_found', 'model_not_found');
    gw.groups.update(WS, g.id, { models: [] });
    fails(() => gw.usage.admit(gw.store.group(g.id)!, S, 1), 'not_found', 'model_not_found');
  });

  it('usage reports null until the first request, then the counter and the next midnight', () => {
    const g = create({ tpd: 1000 });
    expect(gw.usage.groupUsage(WS, g.id)).toEqual({
      customer_id: g.metadata.external_entity_id,
      usage: { [S]: [{ type: 'TOKEN', unit: 'DAY', threshold: 1000, current_usage: null, reset_at: null }] },
    });
    spend(g.id, 42);
    expect(gw.usage.groupUsage(WS, g.id).usage[S]).toEqual([{ type: 'TOKEN', unit: 'DAY', threshold: 1000, current_usage: 42, reset_at: '2026-05-14T00:00:00Z' }]);
  });
});
