import { describe, expect } from 'vitest';
import { mockRule, model, rule, type Harness } from './support/harness.js';

const M = 1_000_000;
const eff = (g: any, slug: string) => g.effective_models.find((m: any) => m.slug === slug);

describe('Hierarchy and effective_models with source_group', () => {
  rule('INDEPENDENT worked example: free-tier, john and sally', [], async (h) => {
    const s = h.slug();
    const freeTier = await h.group({ name: 'free-tier', models: [model(s, [['TOKEN', 'MINUTE', 100 * M]])], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } });
    const john = await h.group({ name: 'john', models: [model(s)], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: freeTier.id } });
    const sally = await h.group({ name: 'sally', models: [model(s, [['TOKEN', 'MINUTE', 120 * M]])], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: freeTier.id } });

    h.expectBody(john.models, [model(s)]);
    h.sameSet(eff(john, s).rate_limits, [{ type: 'TOKEN', unit: 'MINUTE', threshold: 100 * M, source_group: freeTier.id }]);
    h.sameSet(eff(sally, s).rate_limits, [{ type: 'TOKEN', unit: 'MINUTE', threshold: 120 * M, source_group: sally.id }]);

    // Raising the root raises john, who inherits; sally keeps her own.
    await h.api.patch(`/v1/gateway/groups/${freeTier.id}`, { models: [model(s, [['TOKEN', 'MINUTE', 150 * M]])] });
    const john2 = (await h.api.get(`/v1/gateway/groups/${john.id}`)).body;
    h.sameSet(eff(john2, s).rate_limits, [{ type: 'TOKEN', unit: 'MINUTE', threshold: 150 * M, source_group: freeTier.id }]);
    const sally2 = (await h.api.get(`/v1/gateway/groups/${sally.id}`)).body;
    h.sameSet(eff(sally2, s).rate_limits, [{ type: 'TOKEN', unit: 'MINUTE', threshold: 120 * M, source_group: sally.id }]);
  });

  rule('INDEPENDENT: a child may override an inherited threshold downwards and inherits what it omits', [], async (h) => {
    const s = h.slug();
    const root = await h.group({ models: [model(s, [['TOKEN', 'MINUTE', 1000], ['REQUEST', 'MINUTE', 50]], [['TOKEN', 10_000]])] });
    const child = await h.group({ models: [model(s, [['REQUEST', 'MINUTE', 5]])], hierarchy: { parent_group_id: root.id } });
    h.expectBody(child.hierarchy, { limit_enforcement: 'INDEPENDENT', parent_group_id: root.id });
    const e = eff(child, s);
    h.sameSet(e.rate_limits, [
      { type: 'REQUEST', unit: 'MINUTE', threshold: 5, source_group: child.id },
      { type: 'TOKEN', unit: 'MINUTE', threshold: 1000, source_group: root.id },
    ]);
    h.sameSet(e.usage_limits, [{ type: 'TOKEN', unit: 'DAY', threshold: 10_000, source_group: root.id }]);
  });

  rule('CASCADING worked example: org, finance and engineering list every gating limit', [], async (h) => {
    const s = h.slug();
    const org = await h.group({ name: 'org', models: [model(s, [['TOKEN', 'MINUTE', 100 * M]])], hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: null } });
    const finance = await h.group({ name: 'finance', models: [model(s, [['TOKEN', 'MINUTE', 70 * M]])], hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: org.id } });
    const engineering = await h.group({ name: 'engineering', models: [model(s, [['TOKEN', 'MINUTE', 70 * M]])], hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: org.id } });
    for (const g of [finance, engineering]) {
      h.sameSet(eff(g, s).rate_limits, [
        { type: 'TOKEN', unit: 'MINUTE', threshold: 70 * M, source_group: g.id },
        { type: 'TOKEN', unit: 'MINUTE', threshold: 100 * M, source_group: org.id },
      ]);
    }
  });

  rule('effective_models of every descendant follows a change anywhere above it', [], async (h) => {
    const s = h.slug();
    const a = await h.group({ models: [model(s, [['REQUEST', 'MINUTE', 100]])], hierarchy: { limit_enforcement: 'CASCADING' } });
    const b = await h.group({ models: [model(s)], hierarchy: { parent_group_id: a.id } });
    const c = await h.group({ models: [model(s)], hierarchy: { parent_group_id: b.id } });
    expect(c.hierarchy.limit_enforcement).toBe('CASCADING');
    h.sameSet(eff(c, s).rate_limits, [{ type: 'REQUEST', unit: 'MINUTE', threshold: 100, source_group: a.id }]);
    await h.api.patch(`/v1/gateway/groups/${b.id}`, { models: [model(s, [['REQUEST', 'MINUTE', 40]])] });
    await h.api.patch(`/v1/gateway/groups/${a.id}`, { models: [model(s, [['REQUEST', 'MINUTE', 60]])] });
    const c2 = (await h.api.get(`/v1/gateway/groups/${c.id}`)).body;
    h.sameSet(eff(c2, s).rate_limits, [
      { type: 'REQUEST', unit: 'MINUTE', threshold: 40, source_group: b.id },
      { type: 'REQUEST', unit: 'MINUTE', threshold: 60, source_group: a.id },
    ]);
  });

  rule('a root with an empty hierarchy block is INDEPENDENT with no parent', [], async (h) => {
    const g = await h.group({ hierarchy: {} });
    expect(g.hierarchy.limit_enforcement).toBe('INDEPENDENT');
    expect(g.hierarchy.parent_group_id ?? null).toBeNull();
  });

  rule("a child whose limit_enforcement is absent takes its parent's mode", [], async (h) => {
    for (const mode of ['CASCADING', 'INDEPENDENT']) {
      const root = await h.group({ hierarchy: { limit_enforcement: mode, parent_group_id: null } });
      const child = await h.group({ hierarchy: { parent_group_id: root.id } });
      expect(child.hierarchy.limit_enforcement, `${mode} parent`).toBe(mode);
      expect(child.hierarchy.parent_group_id ?? root.id).toBe(root.id);
    }
  });

  rule("limit_enforcement null means the same: a root is INDEPENDENT, a child takes its parent's mode", [], async (h) => {
    const root = await h.group({ hierarchy: { limit_enforcement: null, parent_group_id: null } });
    expect(root.hierarchy.limit_enforcement).toBe('INDEPENDENT');
    const cascading = await h.group({ hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: null } });
    const child = await h.group({ hierarchy: { limit_enforcement: null, parent_group_id: cascading.id } });
    expect(child.hierarchy.limit_enforcement).toBe('CASCADING');
  });

  rule("a child declaring another mode than its parent's is refused (400)", [], async (h) => {
    const root = await h.group({ hierarchy: { limit_enforcement: 'CASCADING' } });
    const res = await h.api.post('/v1/gateway/groups', {
      metadata: { external_entity_id: h.extId() },
      models: [model(h.slug())],
      hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: root.id },
    });
    if (res.status === 200) h.track(res.body.id);
    // The create page names 400 for mixed enforcement modes.
    expect(res.status, res.text.slice(0, 300)).toBe(400);
  });

  rule('a parent that does not exist is 404', [], async (h) => {
    const res = await createChild(h, 'no-such-group-000');
    expect(res.status, res.text).toBe(404);
  });

  rule('a parent that is not visible to the workspace (another workspace’s group) is 404', ['other-workspace'], async (h) => {
    const theirs = await h.api.post(
      '/v1/gateway/groups',
      { metadata: { external_entity_id: h.extId('theirs') }, models: [model(h.slug())], hierarchy: { limit_enforcement: 'INDEPENDENT', parent_group_id: null } },
      { key: h.t.keys.otherWorkspace as string },
    );
    expect(theirs.status, theirs.text).toBe(200);
    try {
      const res = await createChild(h, theirs.body.id);
      expect(res.status, res.text).toBe(404);
    } finally {
      await h.api.del(`/v1/gateway/groups/${theirs.body.id}`, { key: h.t.keys.otherWorkspace as string });
    }
  });

  rule('a hierarchy is at most five levels deep: five levels are accepted, a seventh never is (400)', [], async (h) => {
    let parent = await h.group();
    for (let level = 2; level <= 5; level++) parent = await h.group({ hierarchy: { parent_group_id: parent.id } });
    const sixth = await createChild(h, parent.id);
    if (sixth.status === 200) {
      // Counting the root as level 0 allows one more; the mock counts it as level 1 (#27).
      h.expectOrObserve(false, 'a sixth level was accepted: the target does not count the root as level 1 (AMBIGUITIES.md #27)');
      const seventh = await createChild(h, sixth.body.id);
      // The create page names 400 for more than five levels.
      expect(seventh.status, `a seventh level: ${seventh.text.slice(0, 300)}`).toBe(400);
    } else expect(sixth.status, `a sixth level: ${sixth.text.slice(0, 300)}`).toBe(400);
  });

  mockRule('the flat list of slugs a group may call is its own models, not its ancestors\'', 15, ['two-slugs'], async (h) => {
    const root = await h.group({ models: [model(h.slug(0), [['REQUEST', 'MINUTE', 10]]), model(h.slug(1))] });
    const child = await h.group({ models: [model(h.slug(0))], hierarchy: { parent_group_id: root.id } });
    expect(child.effective_models.map((m: any) => m.slug)).toEqual([h.slug(0)]);
  });
});

async function createChild(h: Harness, parentId: string) {
  const res = await h.api.post('/v1/gateway/groups', {
    metadata: { external_entity_id: h.extId() },
    models: [model(h.slug())],
    hierarchy: { parent_group_id: parentId },
  });
  if (res.status === 200) h.track(res.body.id);
  return res;
}
