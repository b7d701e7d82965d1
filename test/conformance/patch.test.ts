import { describe, expect } from 'vitest';
import { model, rule } from './support/harness.js';

describe('PATCH has set semantics; hierarchy and external id are immutable', () => {
  rule('models replaces the whole set: absent slugs removed, new ones added', ['two-slugs'], async (h) => {
    const [a, b] = [h.slug(0), h.slug(1)];
    const g = await h.group({ models: [model(a, [['REQUEST', 'MINUTE', 10]])] });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models: [model(b, [['TOKEN', 'MINUTE', 99]])] });
    expect(res.status).toBe(200);
    expect(res.body.models).toEqual([model(b, [['TOKEN', 'MINUTE', 99]])]);
    expect(res.body.effective_models.map((m: any) => m.slug)).toEqual([b]);
  });

  rule('limits of a kept slug are replaced, not merged', [], async (h) => {
    const s = h.slug();
    const g = await h.group({ models: [model(s, [['REQUEST', 'MINUTE', 10], ['TOKEN', 'MINUTE', 500]], [['TOKEN', 9000]])] });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models: [model(s, [['TOKEN', 'SECOND', 7]])] });
    expect(res.body.models).toEqual([model(s, [['TOKEN', 'SECOND', 7]])]);
  });

  rule('"models": [] clears every model', [], async (h) => {
    const g = await h.group();
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { models: [] });
    expect(res.status).toBe(200);
    expect(res.body.models).toEqual([]);
    expect(res.body.effective_models).toEqual([]);
  });

  rule('omitting models leaves them unchanged', [], async (h) => {
    const g = await h.group({ models: [model(h.slug(), [['REQUEST', 'MINUTE', 10]])] });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: 'renamed' } });
    expect(res.status).toBe(200);
    expect(res.body.metadata).toEqual({ name: 'renamed', external_entity_id: g.metadata.external_entity_id });
    expect(res.body.models).toEqual(g.models);
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.metadata.name).toBe('renamed');
  });

  rule('the name may be cleared with null', [], async (h) => {
    const g = await h.group({ name: 'named' });
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: null } });
    expect(res.status).toBe(200);
    expect(res.body.metadata.name).toBeNull();
  });

  rule('an empty body is 400', [], async (h) => {
    const g = await h.group();
    expect((await h.api.patch(`/v1/gateway/groups/${g.id}`, {})).status).toBe(400);
  });

  rule('changing the hierarchy is 400', [], async (h) => {
    const parent = await h.group();
    const g = await h.group();
    for (const hierarchy of [{ limit_enforcement: 'CASCADING' }, { parent_group_id: parent.id }]) {
      const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: 'x' }, hierarchy });
      expect(res.status, JSON.stringify(hierarchy)).toBe(400);
    }
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.hierarchy).toEqual(g.hierarchy);
  });

  rule('changing metadata.external_entity_id is 400', [], async (h) => {
    const g = await h.group();
    const res = await h.api.patch(`/v1/gateway/groups/${g.id}`, { metadata: { name: 'x', external_entity_id: h.extId('rekey') } });
    expect(res.status).toBe(400);
    expect((await h.api.get(`/v1/gateway/groups/${g.id}`)).body.metadata).toEqual(g.metadata);
  });
});
