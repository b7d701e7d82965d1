import { describe, expect } from 'vitest';
import { model, rule, type Harness, type Res } from './support/harness.js';

const MESSAGE = 'Child group exceeds parent group limit.';
const tpm = (slug: string, n: number) => [model(slug, [['TOKEN', 'MINUTE', n]])];

async function tree(h: Harness, rootTpm: number, childTpm: number) {
  const s = h.slug();
  const root = await h.group({ models: tpm(s, rootTpm), hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: null } });
  const child = await h.group({ models: tpm(s, childTpm), hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: root.id } });
  return { s, root, child };
}

/** 400 and the message are documented; where the message sits in the body is not. */
function expectCascadeRejection(h: Harness, res: Res) {
  expect(res.status, res.text).toBe(400);
  h.expectMessage(res, MESSAGE);
}

describe('CASCADING write-time rule: no child above an ancestor', () => {
  rule('creating a child above its parent is refused with the documented message', [], async (h) => {
    const s = h.slug();
    const root = await h.group({ models: tpm(s, 100), hierarchy: { limit_enforcement: 'CASCADING' } });
    const res = await h.api.post('/v1/gateway/groups', {
      metadata: { external_entity_id: h.extId() },
      models: tpm(s, 101),
      hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: root.id },
    });
    if (res.status === 200) h.track(res.body.id);
    expectCascadeRejection(h, res);
  });

  rule('creating a grandchild above its grandparent is refused even when the parent sets nothing', [], async (h) => {
    const s = h.slug();
    const root = await h.group({ models: tpm(s, 100), hierarchy: { limit_enforcement: 'CASCADING' } });
    const mid = await h.group({ models: [model(s)], hierarchy: { parent_group_id: root.id } });
    const res = await h.api.post('/v1/gateway/groups', {
      metadata: { external_entity_id: h.extId() },
      models: tpm(s, 150),
      hierarchy: { parent_group_id: mid.id },
    });
    if (res.status === 200) h.track(res.body.id);
    expectCascadeRejection(h, res);
  });

  rule('raising a descendant past an ancestor is refused', [], async (h) => {
    const { s, child } = await tree(h, 100, 70);
    expectCascadeRejection(h, await h.api.patch(`/v1/gateway/groups/${child.id}`, { models: tpm(s, 120) }));
    expect((await h.api.get(`/v1/gateway/groups/${child.id}`)).body.models).toEqual(child.models);
  });

  rule('lowering an ancestor below the highest existing descendant is refused', [], async (h) => {
    const { s, root } = await tree(h, 100, 70);
    expectCascadeRejection(h, await h.api.patch(`/v1/gateway/groups/${root.id}`, { models: tpm(s, 50) }));
    expect((await h.api.get(`/v1/gateway/groups/${root.id}`)).body.models).toEqual(root.models);
  });

  rule('raising top-down succeeds', [], async (h) => {
    const { s, root, child } = await tree(h, 100, 70);
    expect((await h.api.patch(`/v1/gateway/groups/${root.id}`, { models: tpm(s, 200) })).status).toBe(200);
    expect((await h.api.patch(`/v1/gateway/groups/${child.id}`, { models: tpm(s, 180) })).status).toBe(200);
  });

  rule('lowering bottom-up succeeds', [], async (h) => {
    const { s, root, child } = await tree(h, 100, 70);
    expect((await h.api.patch(`/v1/gateway/groups/${child.id}`, { models: tpm(s, 30) })).status).toBe(200);
    expect((await h.api.patch(`/v1/gateway/groups/${root.id}`, { models: tpm(s, 40) })).status).toBe(200);
  });

  rule('equal thresholds are allowed', [], async (h) => {
    const { s, child } = await tree(h, 100, 100);
    h.expectBody(child.models, tpm(s, 100));
  });

  rule('a threshold of 0 compares like any other: a child of 0 is allowed, a parent may not drop to 0 over a child above it', [], async (h) => {
    const { s, root, child } = await tree(h, 100, 0);
    h.expectBody(child.models, tpm(s, 0));
    expect((await h.api.patch(`/v1/gateway/groups/${child.id}`, { models: tpm(s, 5) })).status).toBe(200);
    expectCascadeRejection(h, await h.api.patch(`/v1/gateway/groups/${root.id}`, { models: tpm(s, 0) }));
  });

  rule('over-provisioning is allowed: two children of 70 under 100', [], async (h) => {
    const { s, root } = await tree(h, 100, 70);
    const second = await h.group({ models: tpm(s, 70), hierarchy: { limit_enforcement: 'CASCADING', parent_group_id: root.id } });
    expect(second.hierarchy.parent_group_id).toBe(root.id);
  });

  rule('INDEPENDENT trees have no such rule: a child may exceed its parent', [], async (h) => {
    const s = h.slug();
    const root = await h.group({ models: tpm(s, 100) });
    const child = await h.group({ models: tpm(s, 500), hierarchy: { parent_group_id: root.id } });
    h.expectBody(child.models, tpm(s, 500));
  });
});
